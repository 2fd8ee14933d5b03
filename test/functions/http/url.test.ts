import { describe, expect, it } from 'vitest';
import { withParams } from '../../../functions/http/url';

describe('withParams', () => {
  it('keeps the query the base already has and appends the new parameters', () => {
    expect(withParams('https://app.example/done?tab=2', { status: 'connected', account: 'acme' })).toBe(
      'https://app.example/done?tab=2&status=connected&account=acme',
    );
  });

  it('replaces a parameter the base already carries instead of sending it twice', () => {
    const url = new URL(withParams('https://app.example/done?status=stale', { status: 'denied' }));
    expect(url.searchParams.getAll('status')).toEqual(['denied']);
  });

  it('leaves out undefined values and encodes the rest', () => {
    expect(
      withParams('http://127.0.0.1:8787/cb', { error: 'access_denied', state: undefined, q: 'a b&c' }),
    ).toBe('http://127.0.0.1:8787/cb?error=access_denied&q=a+b%26c');
  });
});
