/** The wire DTOs: the contract's snake_case answers, shaped from the domain's records. */
import { describe, expect, it } from 'vitest';
import {
  connectionListResponse,
  connectionMetadata,
  connectSessionResponse,
  tokenResponse,
} from '../../../functions/http/presenters';
import type { OAuthConnection, PersonalConnection } from '../../../shared/domain/model';
import type { IssuedToken } from '../../../shared/domain/tokens';

const T = Date.UTC(2027, 0, 31);
const ISO = '2027-01-31T00:00:00.000Z';

const issued: IssuedToken = {
  provider: 'lightspeed-x',
  account: 'demo',
  source: 'oauth',
  accessToken: 'at-1',
  expiresAt: T,
  apiBaseUrl: 'https://demo.retail.lightspeed.app/api/2.0',
  stale: false,
};

const oauth: OAuthConnection = {
  provider: 'lightspeed-x',
  account: 'demo',
  source: 'oauth',
  status: 'active',
  expiresAt: T,
  version: 3,
  connectedAt: T,
  failureCount: 0,
  accessToken: 'at-secret',
  lastError: 'timeout',
};

const personal: PersonalConnection = {
  provider: 'xentral',
  account: 'acme',
  source: 'personal',
  secretVersion: 'v1',
  connectedAt: T,
  refreshedAt: T,
  reference: 'tenant-1',
};

describe('presenters', () => {
  it('answers a token in the contract shape, marking stale only in degraded mode', () => {
    expect(tokenResponse(issued)).toEqual({
      provider: 'lightspeed-x',
      account: 'demo',
      access_token: 'at-1',
      token_type: 'Bearer',
      expires_at: ISO,
      source: 'oauth',
      api_base_url: 'https://demo.retail.lightspeed.app/api/2.0',
    });
    expect(tokenResponse({ ...issued, stale: true }).stale).toBe(true);
    expect(tokenResponse({ ...issued, source: 'personal', expiresAt: undefined }).expires_at).toBeNull();
  });

  it('shapes connection metadata without any token, even from a record that holds one', () => {
    const metadata = connectionMetadata({ connection: oauth, status: 'active' });
    expect(metadata).toEqual({
      provider: 'lightspeed-x',
      account: 'demo',
      source: 'oauth',
      status: 'active',
      expires_at: ISO,
      connected_at: ISO,
      refreshed_at: null,
      reference: null,
      last_error: 'timeout',
      refresh_expires_at: null,
      renew_by: null,
    });
    expect(JSON.stringify(metadata)).not.toContain('at-secret');
    expect(connectionMetadata({ connection: personal, status: 'expired' })).toMatchObject({
      status: 'expired',
      expires_at: null,
      refreshed_at: ISO,
      reference: 'tenant-1',
      name: null,
    });
  });

  it('answers a listing with next_token only when there is a next page, and apps in snake_case', () => {
    const app = {
      provider: 'lightspeed-x' as const,
      clientId: 'cid',
      connectedStores: 2,
      unapprovedAppLimit: undefined,
    };
    const last = connectionListResponse({ connections: [], nextCursor: undefined, apps: [app] });
    expect(last).toEqual({
      connections: [],
      apps: [{ provider: 'lightspeed-x', client_id: 'cid', connected_stores: 2, unapproved_app_limit: null }],
    });
    expect(connectionListResponse({ connections: [], nextCursor: 'c1', apps: [] }).next_token).toBe('c1');
  });

  it('answers a connect session with its link and ISO expiry', () => {
    expect(connectSessionResponse({ id: 's1', connectUrl: 'https://b/connect/s1', expiresAt: T })).toEqual({
      id: 's1',
      connect_url: 'https://b/connect/s1',
      expires_at: ISO,
    });
  });
});
