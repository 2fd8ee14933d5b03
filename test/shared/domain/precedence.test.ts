/** The credential precedence rule, alone: which credential answers, and what it reads to find out. */
import { describe, expect, it } from 'vitest';
import type { OAuthRecord, PersonalConnection } from '../../../shared/domain/model';
import { effectiveCredential } from '../../../shared/domain/precedence';

const oauth = (status: OAuthRecord['status']): OAuthRecord => ({
  provider: 'lightspeed-x',
  account: 'demo',
  source: 'oauth',
  status,
  expiresAt: 0,
  version: 1,
  connectedAt: 0,
  failureCount: 0,
});
const personal: PersonalConnection = {
  provider: 'lightspeed-x',
  account: 'demo',
  source: 'personal',
  secretVersion: 'v1',
  connectedAt: 0,
};

/** Read functions that record which credentials were read. */
function reads(stored: { oauth?: OAuthRecord; personal?: PersonalConnection }) {
  const read: string[] = [];
  return {
    read,
    oauth: async () => {
      read.push('oauth');
      return stored.oauth;
    },
    personal: async () => {
      read.push('personal');
      return stored.personal;
    },
  };
}

describe('effectiveCredential', () => {
  it('answers an active OAuth connection over a personal token, without reading the personal token', async () => {
    const r = reads({ oauth: oauth('active'), personal });
    expect(await effectiveCredential(r.oauth, r.personal)).toMatchObject({ source: 'oauth' });
    expect(r.read).toEqual(['oauth']);
  });

  it('answers the personal token when the OAuth connection is dead or absent', async () => {
    for (const stored of [{ oauth: oauth('reauthorization_required'), personal }, { personal }]) {
      const r = reads(stored);
      expect(await effectiveCredential(r.oauth, r.personal)).toBe(personal);
    }
  });

  it('answers a dead OAuth connection only when there is no personal token, and nothing when neither exists', async () => {
    const dead = reads({ oauth: oauth('reauthorization_required') });
    expect(await effectiveCredential(dead.oauth, dead.personal)).toMatchObject({
      status: 'reauthorization_required',
    });
    const none = reads({});
    expect(await effectiveCredential(none.oauth, none.personal)).toBeUndefined();
  });

  it('reads no OAuth connection for a provider without an OAuth flow', async () => {
    const r = reads({ oauth: oauth('active'), personal });
    expect(await effectiveCredential(undefined, r.personal)).toBe(personal);
    expect(r.read).toEqual(['personal']);
  });
});
