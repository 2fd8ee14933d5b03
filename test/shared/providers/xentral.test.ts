import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../shared/config';
import { createProviders } from '../../../shared/providers';
import { XENTRAL_PERSONAL_TOKEN_MAX_DAYS, xentralProvider } from '../../../shared/providers/xentral';

describe('xentralProvider', () => {
  it('fills the instance id into the API base URL template', () => {
    // Prepare
    const provider = xentralProvider('https://{account}.xentral.biz/api');

    // Act
    const base = provider.apiBaseUrl('acme42');

    // Assess
    expect(base).toBe('https://acme42.xentral.biz/api');
  });

  it('fills every occurrence of {account} in a custom template', () => {
    // Prepare
    const provider = xentralProvider('http://127.0.0.1:9500/{account}/api?instance={account}');

    // Act
    const base = provider.apiBaseUrl('acme42');

    // Assess
    expect(base).toBe('http://127.0.0.1:9500/acme42/api?instance=acme42');
  });

  it('uses the default template from the configuration', () => {
    // Prepare
    const providers = createProviders(loadConfig({}));

    // Act
    const base = providers.xentral.apiBaseUrl('shop-7');

    // Assess
    expect(base).toBe('https://shop-7.xentral.biz/api');
  });

  it('limits new personal tokens to 180 days', () => {
    // Act
    const provider = xentralProvider('https://{account}.xentral.biz/api');

    // Assess
    expect(XENTRAL_PERSONAL_TOKEN_MAX_DAYS).toBe(180);
    expect(provider.personalTokenMaxDays).toBe(180);
  });

  it('offers no OAuth flow, only personal tokens', () => {
    // Act
    const provider = createProviders(loadConfig({})).xentral;

    // Assess
    expect(provider.id).toBe('xentral');
    expect(provider.displayName).toBe('Xentral');
    expect(provider.oauth).toBeUndefined();
  });
});
