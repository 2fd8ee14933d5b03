/**
 * The Lightspeed simulator on the test clock, rebuilt for every test, and the calls a client makes
 * against it. A test file calls useLightspeedSimulator() once and reads the simulator from `t`.
 */
import { afterEach, beforeEach, expect } from 'vitest';
import { LightspeedSimulator } from '../../../../functions/local/simulator';

export const CLIENT_ID = 'sim-client-id';
export const CLIENT_SECRET = 'sim-client-secret-0123456789';
export const CONTROL_KEY = 'sim-control-key-0123456789';
export const REDIRECT_URI = 'http://127.0.0.1:8787/oauth/lightspeed-x/callback';
export const STATE = 'state-abcdefgh-1234';
export const START = Date.parse('2026-05-01T08:00:00Z');
export const IMF_FIXDATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;
export const TOKEN_SHAPE = /^[A-Za-z0-9]{40,}$/;

export interface TokenBody {
  access_token?: string;
  token_type?: string;
  expires?: number;
  expires_in?: number;
  refresh_token?: string;
  domain_prefix?: string;
  scope?: string;
  error?: string;
  error_description?: string;
}

/** The current test's simulator, its origin and URLs, and the clock it reads (tests move it). */
export const t = {
  clock: START,
  sim: undefined as unknown as LightspeedSimulator,
  origin: '',
  urls: { authorizeUrl: '', tokenUrl: '', apiBaseUrl: '' },
};

/** Starts a fresh simulator before each test of the calling file and stops it after. */
export function useLightspeedSimulator(): void {
  beforeEach(async () => {
    t.clock = START;
    t.sim = new LightspeedSimulator({
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      redirectUris: [REDIRECT_URI, 'https://broker.example/oauth/lightspeed-x/callback'],
      now: () => t.clock,
    });
    t.origin = await t.sim.listen(0);
    t.urls = t.sim.urls(t.origin);
  });

  afterEach(async () => {
    await t.sim.close();
  });
}

/** Replaces the simulator with one built with these options (on the test clock, a new port). */
export async function restartSimulator(
  options: Partial<ConstructorParameters<typeof LightspeedSimulator>[0]>,
) {
  await t.sim.close();
  t.sim = new LightspeedSimulator({
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    redirectUris: [REDIRECT_URI],
    now: () => t.clock,
    ...options,
  });
  t.origin = await t.sim.listen(0);
  t.urls = t.sim.urls(t.origin);
}

export function authorizeUrl(overrides: Record<string, string | undefined> = {}): string {
  const params: Record<string, string | undefined> = {
    response_type: 'code',
    client_id: CLIENT_ID,
    redirect_uri: REDIRECT_URI,
    state: STATE,
    scope: 'outlets:read sales:read',
    ...overrides,
  };
  const url = new URL(t.urls.authorizeUrl);
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined) url.searchParams.set(name, value);
  }
  return url.toString();
}

export const tokenUrl = (domainPrefix: string): string =>
  t.urls.tokenUrl.replace('{domain_prefix}', domainPrefix);
export const apiUrl = (domainPrefix: string, path: string): string =>
  `${t.urls.apiBaseUrl.replace('{domain_prefix}', domainPrefix)}${path}`;

export function postForm(
  url: string,
  fields: Record<string, string>,
  init: RequestInit = {},
): Promise<Response> {
  return fetch(url, { method: 'POST', body: new URLSearchParams(fields), redirect: 'manual', ...init });
}

export async function tokenCall(
  domainPrefix: string,
  fields: Record<string, string>,
  init: RequestInit = {},
): Promise<{ status: number; body: TokenBody; response: Response }> {
  const response = await postForm(tokenUrl(domainPrefix), fields, init);
  const text = await response.text();
  return { status: response.status, body: JSON.parse(text) as TokenBody, response };
}

export function codeFrom(callback: string): string {
  const code = new URL(callback).searchParams.get('code');
  if (code === null) throw new Error('the callback carries no code');
  return code;
}

export function exchangeFields(code: string, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    grant_type: 'authorization_code',
    code,
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    redirect_uri: REDIRECT_URI,
    ...overrides,
  };
}

export function refreshFields(refreshToken: string): Record<string, string> {
  return {
    grant_type: 'refresh_token',
    refresh_token: refreshToken,
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
  };
}

export async function connect(
  domainPrefix = 'demo-store',
): Promise<Required<Pick<TokenBody, 'access_token' | 'refresh_token'>>> {
  const code = codeFrom(t.sim.consent(authorizeUrl(), { domainPrefix }));
  const { status, body } = await tokenCall(domainPrefix, exchangeFields(code));
  expect(status).toBe(200);
  if (body.access_token === undefined || body.refresh_token === undefined) throw new Error('tokens missing');
  return { access_token: body.access_token, refresh_token: body.refresh_token };
}

export function apiGet(domainPrefix: string, path: string, accessToken: string): Promise<Response> {
  return fetch(apiUrl(domainPrefix, path), { headers: { authorization: `Bearer ${accessToken}` } });
}
