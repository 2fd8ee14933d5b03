/**
 * SigV4 for a deployed broker: the header shape API Gateway expects, a signature checked against an
 * independent implementation of the algorithm, and the client sending exactly what it signed.
 */
import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SigV4Signer, TokenBrokerClient } from '../../client';
import { executeApiRegion } from '../../client/sigv4';

const CREDENTIALS = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
};
const DATE = new Date('2026-03-01T12:34:56Z');
const HOST = 'abc123defg.execute-api.eu-central-1.amazonaws.com';

const sha256 = (data: string) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();

/** The SigV4 algorithm written out from the AWS documentation, for unencoded paths and queries. */
function expectedSignature(input: {
  method: string;
  path: string;
  query: string;
  headers: Record<string, string>;
  signedHeaders: string[];
  body: string;
  region: string;
  secret: string;
}): string {
  const canonicalRequest = [
    input.method,
    input.path,
    input.query.split('&').filter(Boolean).sort().join('&'),
    ...input.signedHeaders.map((h) => `${h}:${input.headers[h]?.trim()}`),
    '',
    input.signedHeaders.join(';'),
    sha256(input.body),
  ].join('\n');
  const amzDate = input.headers['x-amz-date'] ?? '';
  const scope = `${amzDate.slice(0, 8)}/${input.region}/execute-api/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n');
  let key = hmac(`AWS4${input.secret}`, amzDate.slice(0, 8));
  for (const part of [input.region, 'execute-api', 'aws4_request']) key = hmac(key, part);
  return createHmac('sha256', key).update(stringToSign).digest('hex');
}

const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20260301\/eu-central-1\/execute-api\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/;

describe('SigV4Signer', () => {
  it('signs method, host, path, query and body with the execute-api scope', async () => {
    const signer = new SigV4Signer({ region: 'eu-central-1', credentials: CREDENTIALS });
    const body = JSON.stringify({ token: 'personal-token-value', name: 'ERP sync' });
    const url = new URL(`https://${HOST}/personal-tokens/xentral/acme?b=2&a=1`);
    const headers = await signer.sign(
      { method: 'PUT', url, headers: { 'Content-Type': 'application/json' }, body },
      DATE,
    );

    const match = AUTHORIZATION.exec(headers.authorization ?? '');
    expect(match, headers.authorization).not.toBeNull();
    const signedHeaders = (match?.[1] ?? '').split(';');
    expect(signedHeaders).toEqual(expect.arrayContaining(['host', 'x-amz-date', 'x-amz-content-sha256']));
    expect(signedHeaders).toContain('content-type');
    expect(headers['x-amz-date']).toBe('20260301T123456Z');
    expect(headers['x-amz-content-sha256']).toBe(sha256(body));
    expect(headers.host).toBe(HOST);
    expect(match?.[2]).toBe(
      expectedSignature({
        method: 'PUT',
        path: '/personal-tokens/xentral/acme',
        query: 'b=2&a=1',
        headers,
        signedHeaders,
        body,
        region: 'eu-central-1',
        secret: CREDENTIALS.secretAccessKey,
      }),
    );
  });

  it('gives a different signature when the method, path, query or body change', async () => {
    const signer = new SigV4Signer({ region: 'eu-central-1', credentials: CREDENTIALS });
    const sign = async (method: string, path: string, body?: string) =>
      (
        await signer.sign(
          { method, url: new URL(`https://${HOST}${path}`), headers: {}, ...(body ? { body } : {}) },
          DATE,
        )
      ).authorization;
    const base = await sign('GET', '/tokens/lightspeed-x/demo-store');
    expect(await sign('GET', '/tokens/lightspeed-x/demo-store')).toBe(base);
    const variants = [
      await sign('DELETE', '/tokens/lightspeed-x/demo-store'),
      await sign('GET', '/tokens/lightspeed-x/other-store'),
      await sign('GET', '/tokens/lightspeed-x/demo-store?force_refresh=true'),
      await sign('GET', '/tokens/lightspeed-x/demo-store', '{}'),
    ];
    expect(new Set([base, ...variants]).size).toBe(5);
  });

  it('signs the session token of temporary credentials', async () => {
    const signer = new SigV4Signer({
      region: 'eu-central-1',
      credentials: async () => ({ ...CREDENTIALS, sessionToken: 'session-token-example' }),
    });
    const headers = await signer.sign(
      { method: 'GET', url: new URL(`https://${HOST}/connections`), headers: {} },
      DATE,
    );
    expect(headers['x-amz-security-token']).toBe('session-token-example');
    expect(AUTHORIZATION.exec(headers.authorization ?? '')?.[1]?.split(';')).toContain(
      'x-amz-security-token',
    );
  });

  it('reads the region from an execute-api host and nothing else', () => {
    expect(executeApiRegion(HOST)).toBe('eu-central-1');
    expect(executeApiRegion('x1.execute-api.cn-north-1.amazonaws.com.cn')).toBe('cn-north-1');
    expect(executeApiRegion('broker.example.com')).toBeUndefined();
    expect(executeApiRegion('evil.execute-api.eu-central-1.amazonaws.com.example.com')).toBeUndefined();
  });
});

describe('TokenBrokerClient with SigV4', () => {
  it('sends the signed headers, and the exact URL it signed, instead of an API key', async () => {
    const seen: { url: string; headers: Headers; body?: string }[] = [];
    const client = new TokenBrokerClient({
      url: `https://${HOST}`,
      auth: { sigv4: { region: 'eu-central-1', credentials: CREDENTIALS } },
      fetch: async (input, init) => {
        seen.push({ url: String(input), headers: new Headers(init?.headers), body: init?.body as string });
        return new Response(
          JSON.stringify({
            provider: 'lightspeed-x',
            account: 'demo-store',
            access_token: 'token-value',
            token_type: 'Bearer',
            expires_at: new Date(Date.now() + 3_600_000).toISOString(),
            source: 'oauth',
            api_base_url: 'https://demo-store.retail.lightspeed.app/api',
          }),
          { status: 200, headers: { 'content-type': 'application/json' } },
        );
      },
    });
    await client.getToken('lightspeed-x', 'demo-store', { minValidSeconds: 600, forceRefresh: true });
    const [request] = seen;
    expect(request?.url).toBe(
      `https://${HOST}/tokens/lightspeed-x/demo-store?min_valid_seconds=600&force_refresh=true`,
    );
    const authorization = request?.headers.get('authorization') ?? '';
    expect(authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-central-1\/execute-api\/aws4_request, SignedHeaders=\S*host\S*, Signature=[0-9a-f]{64}$/,
    );
    expect(authorization).not.toContain('Bearer');
    expect(request?.headers.get('x-amz-date')).toMatch(/^\d{8}T\d{6}Z$/);
    expect(request?.headers.get('x-amz-content-sha256')).toBe(sha256(''));
    // fetch sets Host from the URL; the signed value equals it.
    expect(request?.headers.has('host')).toBe(false);
  });

  it('turns missing AWS credentials into a typed error', async () => {
    const client = new TokenBrokerClient({
      url: `https://${HOST}`,
      auth: {
        sigv4: {
          region: 'eu-central-1',
          credentials: async () => {
            throw new Error('Could not load credentials from any providers');
          },
        },
      },
      fetch: () => Promise.reject(new Error('must not be called')),
    });
    await expect(client.getToken('lightspeed-x', 'demo-store')).rejects.toMatchObject({
      name: 'BrokerRequestError',
      code: 'credentials_unavailable',
      status: 0,
    });
  });
});
