/**
 * Xentral ERP, provider id `xentral`: personal access tokens only (no OAuth). New tokens must expire
 * within 180 days from release 26.47/26.49 (Nov–Dec 2026); older ones may have no expiry.
 */

import { DNS_LABEL_ACCOUNT } from '../domain/model';
import type { ProviderBehaviour } from '../domain/ports';
import { defineProvider } from './definition';

/** Xentral's limit on the lifetime of newly created personal access tokens. */
export const XENTRAL_PERSONAL_TOKEN_MAX_DAYS = 180;

/** The `xentral` provider; `apiBaseUrl` is a template with `{account}` (the instance id). */
export function xentralProvider(apiBaseUrl: string): ProviderBehaviour {
  return {
    apiBaseUrl: (account) => apiBaseUrl.replaceAll('{account}', account),
    personalTokenMaxDays: XENTRAL_PERSONAL_TOKEN_MAX_DAYS,
    // No token-info endpoint exists: one small authenticated read (401 invalid, 403 valid but limited).
    verifyRequest: (account, token) => ({
      url: `${apiBaseUrl.replaceAll('{account}', account)}/v1/users?page%5Bsize%5D=1`,
      method: 'GET',
      headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
    }),
  };
}

/** Xentral: personal access tokens only, on a per-instance host. */
export const xentral = defineProvider({
  id: 'xentral',
  displayName: 'Xentral',
  account: { ...DNS_LABEL_ACCOUNT, description: 'Xentral instance id', example: 'acme' },
  // A template with `{account}`.
  settings: { apiBaseUrl: { env: 'XENTRAL_API_BASE_URL', default: 'https://{account}.xentral.biz/api' } },
  personalTokens: true,
  create: ({ settings }) => xentralProvider(settings.apiBaseUrl),
});
