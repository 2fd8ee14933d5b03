import { describe, expect, it } from 'vitest';
import { json, noContent, page, redirect } from '../../../functions/http/responses';

describe('responses', () => {
  it('answers JSON that no cache may keep', () => {
    // Act
    const result = json(200, { access_token: 'at-1' });

    // Assess
    expect(result).toEqual({
      statusCode: 200,
      headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
      body: '{"access_token":"at-1"}',
    });
  });

  it('adds extra headers to a JSON answer', () => {
    // Act
    const result = json(503, { error: 'provider_unavailable' }, { 'retry-after': '30' });

    // Assess
    expect(result.headers['retry-after']).toBe('30');
    expect(result.headers['cache-control']).toBe('no-store');
  });

  it('answers 204 without a body', () => {
    // Act
    const result = noContent();

    // Assess
    expect(result).toEqual({ statusCode: 204, headers: { 'cache-control': 'no-store' } });
  });

  it('serves pages that load nothing from elsewhere and send no referrer', () => {
    // Act
    const result = page(400, '<!doctype html>');

    // Assess
    expect(result.statusCode).toBe(400);
    expect(result.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(result.headers['referrer-policy']).toBe('no-referrer');
    expect(result.headers['content-security-policy']).toMatch(/^default-src 'none';/);
    expect(result.headers['content-security-policy']).not.toContain('script-src');
    expect(result.headers['x-frame-options']).toBe('DENY');
    expect(result).not.toHaveProperty('cookies');
  });

  it('passes cookies with a page', () => {
    // Act
    const result = page(200, '<!doctype html>', ['state=abc; HttpOnly']);

    // Assess
    expect(result.cookies).toEqual(['state=abc; HttpOnly']);
  });

  it('redirects without leaking a referrer', () => {
    // Act
    const result = redirect(303, 'https://app.example.com/done?status=connected', ['state=; Max-Age=0']);

    // Assess
    expect(result).toEqual({
      statusCode: 303,
      headers: {
        location: 'https://app.example.com/done?status=connected',
        'cache-control': 'no-store',
        'referrer-policy': 'no-referrer',
      },
      cookies: ['state=; Max-Age=0'],
    });
  });
});
