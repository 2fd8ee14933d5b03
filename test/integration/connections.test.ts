/** Connections API, personal tokens, the sweep and restart persistence, through the local runtime. */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS, startEmbeddedDynamoDb } from '../../functions/local/dynamodb';
import { connect, recorder, startTestBroker, type TestBroker, type TokenBody } from '../helpers/broker';

let t: TestBroker;

beforeAll(async () => {
  t = await startTestBroker({ REFRESH_MARGIN_SECONDS: '900' });
});
afterAll(() => t.close());
beforeEach(() => {
  t.simulator.clearFaults();
  t.simulator.setAccessTokenTtl(86_400);
  t.simulator.resetStats();
});

const putPersonal = (provider: string, account: string, body: Record<string, unknown>) =>
  t.json(`/personal-tokens/${provider}/${account}`, { method: 'PUT', body: JSON.stringify(body) });

describe('personal tokens', () => {
  it('stores a token in the secret store, never echoes it, and hands it out with its expiry', async () => {
    const expires = new Date(Date.now() + 30 * 86_400_000).toISOString();
    const put = await putPersonal('xentral', 'acme', {
      token: 'xentral-pat-123456',
      name: 'ERP sync',
      expires_at: expires,
    });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({
      provider: 'xentral',
      account: 'acme',
      source: 'personal',
      status: 'active',
      name: 'ERP sync',
    });
    expect(JSON.stringify(put.body)).not.toContain('xentral-pat-123456');
    const token = await t.json<TokenBody>('/tokens/xentral/acme');
    expect(token.body).toMatchObject({
      access_token: 'xentral-pat-123456',
      source: 'personal',
      expires_at: expires,
      api_base_url: `${t.url}/_sim/xentral/acme/api`,
    });
    const secrets = await stat(join(t.dataDir, 'secrets.json'));
    expect(secrets.mode & 0o777).toBe(0o600);
  });

  it('returns null expires_at for a token without expiry', async () => {
    await putPersonal('lightspeed-x', 'script-store', { token: 'lsx-personal-token-1' });
    const token = await t.json<TokenBody>('/tokens/lightspeed-x/script-store');
    expect(token.body.expires_at).toBeNull();
    expect(token.body.source).toBe('personal');
  });

  it('replaces a token so the next fetch gets the new value', async () => {
    await putPersonal('xentral', 'rotate', { token: 'old-token-value' });
    await putPersonal('xentral', 'rotate', { token: 'new-token-value' });
    expect((await t.json<TokenBody>('/tokens/xentral/rotate')).body.access_token).toBe('new-token-value');
  });

  it('answers 409 token_expired once a personal token is past its expiry', async () => {
    await putPersonal('xentral', 'short', {
      token: 'short-lived-token',
      expires_at: new Date(Date.now() + 1200).toISOString(),
    });
    expect((await t.json('/tokens/xentral/short')).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 1300));
    const expired = await t.json('/tokens/xentral/short');
    expect(expired.status).toBe(409);
    expect(expired.body.error).toBe('token_expired');
    expect((await t.json('/connections/xentral/short')).body.status).toBe('expired');
  });

  it('refuses an expires_at in the past and stores nothing', async () => {
    const put = await putPersonal('xentral', 'past', {
      token: 'some-token-value',
      expires_at: '2020-01-01T00:00:00Z',
    });
    expect(put.status).toBe(400);
    expect(String(put.body.message)).toContain('expires_at');
    expect((await t.json('/connections/xentral/past')).status).toBe(404);
  });

  it.each([
    [{}, 'body.token'],
    [{ token: 'has space inside' }, 'body.token'],
    [{ token: 'short' }, 'body.token'],
    [{ token: 'valid-token-value', expires_at: 'tomorrow' }, 'body.expires_at'],
    [{ token: 'valid-token-value', extra: 1 }, 'extra'],
  ])('refuses %j naming the field', async (body, field) => {
    const put = await putPersonal('xentral', 'bad', body);
    expect(put.status).toBe(400);
    expect(String(put.body.message)).toContain(field);
  });

  it('refuses an oversized body naming it, and drops a huge one before reading it all', async () => {
    const big = await putPersonal('xentral', 'big', { token: 'x'.repeat(20_000) });
    expect(big.status).toBe(400);
    expect(String(big.body.message)).toContain('body');
    const huge = await t.api('/personal-tokens/xentral/big', { method: 'PUT', body: 'x'.repeat(200_000) });
    expect(huge.status).toBe(400);
    expect(((await huge.json()) as { error: string; message: string }).message).toContain('body');
    expect((await t.json('/connections/xentral/big')).status).toBe(404);
  });

  it('prefers an active OAuth connection over a personal token, and falls back when OAuth is dead', async () => {
    await putPersonal('lightspeed-x', 'both-store', { token: 'personal-fallback-token' });
    await connect(t, 'both-store');
    expect((await t.json<TokenBody>('/tokens/lightspeed-x/both-store')).body.source).toBe('oauth');
    t.simulator.revokeAccount('both-store');
    const fallback = await t.json<TokenBody>('/tokens/lightspeed-x/both-store?force_refresh=true');
    expect(fallback.body).toMatchObject({ source: 'personal', access_token: 'personal-fallback-token' });
  });

  it('deletes a personal token: 204, then 404', async () => {
    await putPersonal('xentral', 'gone', { token: 'delete-me-token' });
    expect((await t.api('/personal-tokens/xentral/gone', { method: 'DELETE' })).status).toBe(204);
    expect((await t.json('/tokens/xentral/gone')).status).toBe(404);
    expect((await t.api('/personal-tokens/xentral/gone', { method: 'DELETE' })).status).toBe(404);
  });
});

describe('connections', () => {
  it('shows metadata only, never a token', async () => {
    await connect(t, 'meta-store', { provider: 'lightspeed-x', reference: 'tenant-9' });
    const token = await t.json<TokenBody>('/tokens/lightspeed-x/meta-store');
    const { status, body } = await t.json('/connections/lightspeed-x/meta-store');
    expect(status).toBe(200);
    expect(Object.keys(body).sort()).toEqual(
      [
        'account',
        'connected_at',
        'expires_at',
        'last_error',
        'provider',
        'reference',
        'refresh_expires_at',
        'refreshed_at',
        'renew_by',
        'source',
        'status',
      ].sort(),
    );
    expect(body).toMatchObject({ reference: 'tenant-9', status: 'active', source: 'oauth' });
    // Lightspeed states no refresh-token expiry: renewed within its 30-day cadence all the same.
    expect(body.refresh_expires_at).toBeNull();
    expect(Date.parse(String(body.renew_by)) - Date.now()).toBeGreaterThan(29 * 86_400_000);
    expect(JSON.stringify(body)).not.toContain(token.body.access_token);
  });

  it('lists with filters and pagination, visiting every connection once', async () => {
    for (const account of ['page-a', 'page-b', 'page-c', 'page-d', 'page-e']) {
      await putPersonal('xentral', account, { token: `token-for-${account}` });
    }
    const seen: string[] = [];
    let next: string | undefined;
    let pages = 0;
    do {
      const query = `?provider=xentral&limit=2${next ? `&next_token=${encodeURIComponent(next)}` : ''}`;
      const { status, body } = await t.json<{
        connections: { account: string; provider: string }[];
        next_token?: string;
      }>(`/connections${query}`);
      expect(status).toBe(200);
      expect(body.connections.length).toBeLessThanOrEqual(2);
      for (const c of body.connections) {
        expect(c.provider).toBe('xentral');
        seen.push(c.account);
      }
      next = body.next_token;
      pages++;
    } while (next !== undefined && pages < 50);
    for (const account of ['page-a', 'page-b', 'page-c', 'page-d', 'page-e']) expect(seen).toContain(account);
    expect(new Set(seen).size).toBe(seen.length);
    const all = await t.json<{ connections: unknown[] }>('/connections?limit=100');
    expect(JSON.stringify(all.body)).not.toMatch(/token-for-page/);
  });

  it.each([
    ['?limit=0', 'query.limit'],
    ['?limit=101', 'query.limit'],
    ['?status=sleeping', 'query.status'],
    ['?provider=toast', 'query.provider'],
    ['?next_token=not-ours', 'next_token'],
  ])('refuses %s naming the field', async (query, field) => {
    const { status, body } = await t.json(`/connections${query}`);
    expect(status).toBe(400);
    expect(String(body.message)).toContain(field);
  });

  it('forgets a connection and its tokens on delete', async () => {
    await connect(t, 'forget-store');
    await putPersonal('lightspeed-x', 'forget-store', { token: 'forget-personal-token' });
    expect((await t.api('/connections/lightspeed-x/forget-store', { method: 'DELETE' })).status).toBe(204);
    expect((await t.json('/connections/lightspeed-x/forget-store')).status).toBe(404);
    expect((await t.json('/tokens/lightspeed-x/forget-store')).status).toBe(404);
    expect((await t.api('/connections/lightspeed-x/forget-store', { method: 'DELETE' })).status).toBe(404);
  });
});

describe('encryption at rest', () => {
  it('keeps no usable token in the table: everything a table reader sees is sealed', async () => {
    await connect(t, 'sealed-store');
    const forced = await t.json<TokenBody>('/tokens/lightspeed-x/sealed-store?force_refresh=true');
    const client = DynamoDBDocumentClient.from(
      new DynamoDBClient({
        endpoint: t.broker.dynamodbEndpoint,
        region: 'local',
        credentials: LOCAL_CREDENTIALS,
      }),
    );
    // A Scan is fine here: it is what someone with read access to the table (or an export) would do.
    const { Items = [] } = await client.send(new ScanCommand({ TableName: t.broker.config.tableName }));
    client.destroy();
    const item = Items.find((i) => i.pk === 'conn#lightspeed-x#sealed-store' && i.sk === 'oauth');
    expect(item?.accessToken).toMatch(/^v1\./);
    expect(item?.refreshToken).toMatch(/^v1\./);
    expect(JSON.stringify(Items)).not.toContain(forced.body.access_token);
  });
});

describe('sweep', () => {
  it('refreshes every connection expiring within the margin without any caller asking', async () => {
    t.simulator.setAccessTokenTtl(600);
    await connect(t, 'sweep-a');
    await connect(t, 'sweep-b');
    t.simulator.setAccessTokenTtl(86_400);
    await connect(t, 'sweep-fresh');
    t.simulator.resetStats();
    const report = await t.broker.sweep();
    expect(report.refreshed).toBeGreaterThanOrEqual(2);
    const stats = t.simulator.stats();
    expect(stats.byAccount['sweep-a']?.refreshes).toBe(1);
    expect(stats.byAccount['sweep-b']?.refreshes).toBe(1);
    expect(stats.byAccount['sweep-fresh']).toBeUndefined();
    // Refreshed tokens now live a day: the next sweep has nothing of theirs to do.
    t.simulator.resetStats();
    await t.broker.sweep();
    expect(t.simulator.stats().byAccount['sweep-a']).toBeUndefined();
  });

  it('is reachable over HTTP in the local runtime', async () => {
    const response = await t.json('/_local/sweep', { method: 'POST' });
    expect(response.status).toBe(200);
    expect(response.body).toHaveProperty('due');
  });
});

describe('restart', () => {
  it('keeps connections, personal tokens and the API key across a restart of the local runtime', async () => {
    const first = await startTestBroker({ BROKER_API_KEY: '' });
    await connect(first, 'persist-store');
    await first.json('/personal-tokens/xentral/persist', {
      method: 'PUT',
      body: JSON.stringify({ token: 'persisted-personal' }),
    });
    const before = await first.json<TokenBody>('/tokens/lightspeed-x/persist-store');
    const apiKey = first.broker.apiKey;
    expect(first.broker.apiKeySource).toBe('generated');
    await first.close({ keepData: true });

    const second = await startTestBroker({ BROKER_API_KEY: '' }, { dataDir: first.dataDir });
    try {
      expect(second.broker.apiKey).toBe(apiKey);
      expect(second.broker.apiKeySource).toBe('file');
      const after = await second.json<TokenBody>('/tokens/lightspeed-x/persist-store');
      expect(after.status).toBe(200);
      expect(after.body.access_token).toBe(before.body.access_token);
      expect((await second.json<TokenBody>('/tokens/xentral/persist')).body.access_token).toBe(
        'persisted-personal',
      );
      // Demo mode: the simulator kept its secret and tokens, so the connection still works.
      const outlets = await fetch(`${after.body.api_base_url}/2.0/outlets`, {
        headers: { authorization: `Bearer ${after.body.access_token}` },
      });
      expect(outlets.status).toBe(200);
      const refreshed = await second.json<TokenBody>('/tokens/lightspeed-x/persist-store?force_refresh=true');
      expect(refreshed.status).toBe(200);
      expect(refreshed.body.access_token).not.toBe(before.body.access_token);
      expect(second.simulator.stats()).toMatchObject({ refreshes: 1, invalidGrants: 0 });
    } finally {
      await second.close();
    }
  });

  it('refuses to start on a damaged simulator state file, naming it, and leaves it as it was', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'broker-simstate-'));
    const path = join(dataDir, 'simulator.json');
    await writeFile(path, '{"clientSecret":"x","tokens":{"accessTokens":"nope"}}');
    try {
      await expect(startTestBroker({}, { dataDir })).rejects.toThrow(
        `${path} is not the demo simulator's state`,
      );
      expect(await readFile(path, 'utf8')).toBe('{"clientSecret":"x","tokens":{"accessTokens":"nope"}}');
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('two brokers on one table', () => {
  it('tells the operator to share the keyring when a row was sealed under another one', async () => {
    const dynamodb = await startEmbeddedDynamoDb(undefined);
    const log = recorder();
    const first = await startTestBroker({ DYNAMODB_ENDPOINT: dynamodb.endpoint });
    const second = await startTestBroker({ DYNAMODB_ENDPOINT: dynamodb.endpoint }, { logger: log.logger });
    try {
      await connect(first, 'shared-store');
      expect((await first.json('/tokens/lightspeed-x/shared-store')).status).toBe(200);

      const refused = await second.json<TokenBody>('/tokens/lightspeed-x/shared-store');

      expect(refused.status).toBe(500);
      expect(refused.body.error).toBe('internal_error');
      const failure = log.lines.find((line) => line.message === 'request failed');
      expect(failure?.attributes).toMatchObject({ errorName: 'DecryptionError' });
      expect(String(failure?.attributes.operatorMessage)).toContain(
        'Processes that share a table must share its keyring.json',
      );
    } finally {
      await Promise.all([first.close(), second.close()]);
      await dynamodb.close();
    }
  });
});
