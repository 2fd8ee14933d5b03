/** The authorize endpoint and the consent page. */
import { describe, expect, it } from 'vitest';
import {
  authorizeUrl,
  CLIENT_ID,
  exchangeFields,
  postForm,
  REDIRECT_URI,
  STATE,
  TOKEN_SHAPE,
  t,
  tokenCall,
  useLightspeedSimulator,
} from './harness';

useLightspeedSimulator();

describe('Lightspeed authorize endpoint', () => {
  it('answers an unregistered redirect_uri with a 400 page and never redirects to it', async () => {
    for (const redirectUri of [
      'https://evil.example/callback',
      `${REDIRECT_URI}?extra=1`,
      `${REDIRECT_URI}/`,
    ]) {
      const response = await fetch(authorizeUrl({ redirect_uri: redirectUri }), { redirect: 'manual' });
      expect(response.status).toBe(400);
      expect(response.headers.get('location')).toBeNull();
      expect(response.headers.get('content-type')).toMatch(/^text\/html/);
      expect(await response.text()).toContain('redirect_uri does not match');
    }
  });

  it('refuses an unknown client_id with a 400 page', async () => {
    const response = await fetch(authorizeUrl({ client_id: 'someone-else' }), { redirect: 'manual' });
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
  });

  it('requires a state of at least 8 characters', async () => {
    for (const state of ['short', undefined]) {
      const url = new URL(authorizeUrl());
      if (state === undefined) url.searchParams.delete('state');
      else url.searchParams.set('state', state);
      const response = await fetch(url, { redirect: 'manual' });
      expect(response.status).toBe(400);
      expect(response.headers.get('location')).toBeNull();
      expect(await response.text()).toContain('state required');
    }
  });

  it('redirects a request without scope to access_denied, keeping the state', async () => {
    for (const scope of [undefined, '', '   ']) {
      const url = new URL(authorizeUrl());
      if (scope === undefined) url.searchParams.delete('scope');
      else url.searchParams.set('scope', scope);
      const response = await fetch(url, { redirect: 'manual' });
      expect(response.status).toBe(302);
      const location = new URL(response.headers.get('location') ?? '');
      expect(`${location.origin}${location.pathname}`).toBe(REDIRECT_URI);
      expect(location.searchParams.get('error')).toBe('access_denied');
      expect(location.searchParams.get('state')).toBe(STATE);
      expect(location.searchParams.has('code')).toBe(false);
    }
  });

  it('renders an accessible consent page that escapes every value', async () => {
    const hostileState = '"><script>alert(1)</script>';
    const response = await fetch(authorizeUrl({ state: hostileState, scope: 'outlets:read <b>x</b>' }));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await response.text();
    expect(html).toContain('<html lang="en">');
    expect(html).toContain('name="viewport"');
    expect(html).toContain('<label for="domain_prefix">Store domain prefix</label>');
    expect(html).toMatch(/<input type="text" id="domain_prefix" name="domain_prefix" value="demo-store"/);
    expect(html).toMatch(/<button[^>]*value="allow"[^>]*>Allow<\/button>/);
    expect(html).toMatch(/<button[^>]*value="deny"[^>]*>Deny<\/button>/);
    expect(html).toContain(CLIENT_ID);
    expect(html).toContain('<code>outlets:read</code>');
    expect(html).not.toContain('<script');
    expect(html).not.toContain('<b>');
    expect(html).toContain('&#34;&#62;&#60;script&#62;');
    expect(html).not.toMatch(/<link|src=|https?:\/\/(?!127\.0\.0\.1)/);
  });
});

/** Reads the consent form the way a browser would: its action and every named input. */
function parseConsentForm(html: string): { action: string; fields: Record<string, string> } {
  const action = /<form method="post" action="([^"]+)">/.exec(html)?.[1];
  if (action === undefined) throw new Error('no form');
  const fields: Record<string, string> = {};
  for (const match of html.matchAll(/<input type="(?:hidden|text)"[^>]*?name="([^"]+)" value="([^"]*)"/g)) {
    const [, name, value] = match;
    if (name !== undefined && value !== undefined) fields[name] = value.replaceAll('&#34;', '"');
  }
  return { action, fields };
}

describe('Lightspeed consent', () => {
  it('issues a code through the consent form that exchanges for tokens', async () => {
    const page = await fetch(authorizeUrl());
    const { action, fields } = parseConsentForm(await page.text());
    expect(fields).toMatchObject({ client_id: CLIENT_ID, redirect_uri: REDIRECT_URI, state: STATE });

    const allow = await postForm(new URL(action, t.origin).toString(), {
      ...fields,
      domain_prefix: 'corner-shop',
      decision: 'allow',
    });
    expect(allow.status).toBe(302);
    const callback = new URL(allow.headers.get('location') ?? '');
    expect(`${callback.origin}${callback.pathname}`).toBe(REDIRECT_URI);
    expect(callback.searchParams.get('domain_prefix')).toBe('corner-shop');
    expect(callback.searchParams.get('state')).toBe(STATE);
    const code = callback.searchParams.get('code') ?? '';
    expect(code.length).toBeGreaterThanOrEqual(32);

    const { status, body } = await tokenCall('corner-shop', exchangeFields(code));
    expect(status).toBe(200);
    expect(body.token_type).toBe('Bearer');
    expect(body.expires_in).toBe(86_400);
    expect(typeof body.expires).toBe('number');
    expect(body.access_token).toMatch(TOKEN_SHAPE);
    expect(body.refresh_token).toMatch(TOKEN_SHAPE);
    expect(t.sim.stats().exchanges).toBe(1);
  });

  it('redirects a denial to access_denied without state', async () => {
    const page = await fetch(authorizeUrl());
    const { action, fields } = parseConsentForm(await page.text());
    const deny = await postForm(new URL(action, t.origin).toString(), { ...fields, decision: 'deny' });
    expect(deny.status).toBe(302);
    const callback = new URL(deny.headers.get('location') ?? '');
    expect(callback.search).toBe('?error=access_denied');
    expect(t.sim.consent(authorizeUrl(), 'deny')).toBe(`${REDIRECT_URI}?error=access_denied`);
  });

  it('shows the form again when the domain prefix is not a DNS label', async () => {
    const page = await fetch(authorizeUrl());
    const { action, fields } = parseConsentForm(await page.text());
    const response = await postForm(new URL(action, t.origin).toString(), {
      ...fields,
      domain_prefix: 'bad_prefix!',
      decision: 'allow',
    });
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
    const html = await response.text();
    expect(html).toContain('role="alert"');
    expect(html).toContain('value="bad_prefix!"');
    expect(() => t.sim.consent(authorizeUrl(), { domainPrefix: '-bad-' })).toThrow(/DNS label/);
  });

  it('re-checks the hidden fields, refusing a tampered redirect_uri', async () => {
    const page = await fetch(authorizeUrl());
    const { action, fields } = parseConsentForm(await page.text());
    const response = await postForm(new URL(action, t.origin).toString(), {
      ...fields,
      redirect_uri: 'https://evil.example/cb',
      domain_prefix: 'demo-store',
      decision: 'allow',
    });
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
  });
});
