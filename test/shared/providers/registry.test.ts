import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../shared/config';
import { createProviders, PROVIDER_DEFINITIONS } from '../../../shared/providers';
import { xentral } from '../../../shared/providers/xentral';

describe('createProviders', () => {
  it('adds what a definition declares as data to the behaviour it creates', () => {
    // Act
    const providers = createProviders(loadConfig({}));

    // Assess
    for (const definition of PROVIDER_DEFINITIONS) {
      const provider = providers[definition.id];
      expect(provider.account.pattern).toBe(definition.account.pattern);
      expect(provider.verifyRequest !== undefined, definition.id).toBe(definition.personalTokens);
      if (definition.oauth === undefined) continue;
      expect(provider.oauth?.accountBeforeAuthorization, definition.id).toBe(
        definition.oauth.accountFirst === true,
      );
      expect(provider.oauth?.startsInstalls, definition.id).toBe(definition.oauth.startsInstalls === true);
    }
    expect(providers.shopify.oauth).toMatchObject({ accountBeforeAuthorization: true, startsInstalls: true });
  });

  it('refuses a definition whose personalTokens disagrees with what it creates', () => {
    // Arrange
    const wrong = { ...xentral, personalTokens: false };

    // Act
    const build = () => createProviders(loadConfig({}, [wrong]), [wrong]);

    // Assess
    expect(build).toThrow('xentral: personalTokens says false, but create() disagrees');
  });
});
