import { describe, expect, it } from 'vitest';
import type { z } from 'zod/mini';
import { httpErrorOf, InvalidRequestError } from '../../../functions/http/errors';
import {
  connectionPathSchema,
  connectSessionBodySchema,
  MAX_MIN_VALID_SECONDS,
  parseInput,
  parseJsonBody,
  personalTokenBodySchema,
  tokenQuerySchema,
} from '../../../functions/http/requests';
import { ACCOUNT_PATTERN } from '../../../shared/domain/model';

/** The InvalidRequestError that `run` throws. */
function refusal(run: () => unknown): InvalidRequestError {
  try {
    run();
  } catch (error) {
    if (error instanceof InvalidRequestError) return error;
    throw new Error(`expected an InvalidRequestError, got ${String(error)}`);
  }
  throw new Error('expected an InvalidRequestError, nothing was thrown');
}

const refusalOf = <S extends z.core.$ZodType>(schema: S, input: unknown, where: string) =>
  refusal(() => parseInput(schema, input, where));

describe('ACCOUNT_PATTERN', () => {
  it.each([
    ['a hyphenated name', 'demo-store'],
    ['one letter', 'a'],
    ['one digit', '7'],
    ['digits and letters', 'shop42'],
    ['63 characters', `a${'b'.repeat(61)}c`],
    ['inner double hyphens', 'xn--bcher-kva'],
  ])('accepts %s', (_, account) => {
    // Act and assess
    expect(ACCOUNT_PATTERN.test(account)).toBe(true);
  });

  it.each([
    ['upper case', 'Demo-Store'],
    ['an underscore', 'demo_store'],
    ['a leading hyphen', '-demo'],
    ['a trailing hyphen', 'demo-'],
    ['64 characters', 'a'.repeat(64)],
    ['dots', 'demo.store'],
    ['the empty string', ''],
    ['non-ASCII letters', 'dëmo'],
    ['a path traversal', '../x'],
    ['a space', 'demo store'],
    ['a trailing newline', 'demo\n'],
    ['a slash', 'demo/store'],
  ])('refuses %s', (_, account) => {
    // Act and assess
    expect(ACCOUNT_PATTERN.test(account)).toBe(false);
  });
});

describe('parseInput', () => {
  it('names the path field of a bad account', () => {
    // Act
    const error = refusalOf(
      connectionPathSchema,
      { provider: 'lightspeed-x', account: 'Demo_Store' },
      'path',
    );

    // Assess
    expect(error.field).toBe('path.account');
    expect(httpErrorOf(error)?.status).toBe(400);
    expect(error.code).toBe('invalid_request');
    expect(error.message).toBe(
      'path.account: must be a lower-case DNS label (a-z, 0-9, inner hyphens, at most 63 characters)',
    );
  });

  it('names the query field of a bad number', () => {
    // Act
    const error = refusalOf(tokenQuerySchema, { min_valid_seconds: 'abc' }, 'query');

    // Assess
    expect(error.field).toBe('query.min_valid_seconds');
    expect(error.message).toBe('query.min_valid_seconds: must be a whole number from 0 to 43200');
  });

  it('names the body field of an unknown provider and lists the known ones', () => {
    // Act
    const error = refusalOf(connectSessionBodySchema, { provider: 'toast' }, 'body');

    // Assess
    expect(error.field).toBe('body.provider');
    expect(error.message).toBe(
      'body.provider: must be one of lightspeed-x, shopify, square, clover, lightspeed-r, xentral',
    );
  });

  it('names an unknown query parameter', () => {
    // Act
    const error = refusalOf(tokenQuerySchema, { min_valid_seconds: '60', refresh: 'yes' }, 'query');

    // Assess
    expect(error.field).toBe('query');
    expect(error.message).toBe('query: unknown parameter "refresh"');
  });

  it('names every unknown body field', () => {
    // Act
    const error = refusalOf(connectSessionBodySchema, { provider: 'xentral', extra: 1, more: 2 }, 'body');

    // Assess
    expect(error.field).toBe('body');
    expect(error.message).toBe('body: unknown field "extra", "more"');
  });

  it('says a missing field is required', () => {
    // Act
    const error = refusalOf(personalTokenBodySchema, {}, 'body');

    // Assess
    expect(error.field).toBe('body.token');
    expect(error.message).toBe('body.token: is required');
  });

  // Documents expected behaviour (fails today): zod 4 issues carry no `input` unless asked, so
  // parseInput reports every wrongly typed field, even an optional one, as "is required".
  it('does not call an optional field of the wrong type required', () => {
    // Act
    const error = refusalOf(personalTokenBodySchema, { token: 'abcdefgh', name: 5 }, 'body');

    // Assess
    expect(error.field).toBe('body.name');
    expect(error.message).not.toBe('body.name: is required');
  });

  it('gives the schema message for a present token of the wrong type', () => {
    // Act
    const error = refusalOf(personalTokenBodySchema, { token: 12345678 }, 'body');

    // Assess
    expect(error.message).toBe('body.token: is required and must be a string');
  });

  it('uses the path alone when no location is given', () => {
    // Act
    const error = refusal(() => parseInput(connectionPathSchema, { provider: 'xentral', account: '' }));

    // Assess
    expect(error.field).toBe('account');
  });

  it('returns the parsed value on success', () => {
    // Act
    const parsed = parseInput(connectionPathSchema, { provider: 'xentral', account: 'acme42' }, 'path');

    // Assess
    expect(parsed).toEqual({ provider: 'xentral', account: 'acme42' });
  });
});

describe('tokenQuerySchema', () => {
  const parse = (query: Record<string, string>) => parseInput(tokenQuerySchema, query, 'query');

  it('defaults to 300 seconds without a forced refresh', () => {
    // Act
    const query = parse({});

    // Assess
    expect(query).toEqual({ min_valid_seconds: 300, force_refresh: false });
  });

  it.each([
    ['0', 0],
    ['43200', 43_200],
    ['900', 900],
  ])('accepts min_valid_seconds=%s', (raw, expected) => {
    // Act
    const query = parse({ min_valid_seconds: raw });

    // Assess
    expect(query.min_valid_seconds).toBe(expected);
  });

  it.each(['43201', '-1', '1.5', 'abc', '', ' 60', '1e3', '0x10', '9999999999'])(
    'refuses min_valid_seconds=%j',
    (raw) => {
      // Act
      const error = refusal(() => parse({ min_valid_seconds: raw }));

      // Assess
      expect(error.field).toBe('query.min_valid_seconds');
    },
  );

  it('caps min_valid_seconds at MAX_MIN_VALID_SECONDS', () => {
    // Assess
    expect(MAX_MIN_VALID_SECONDS).toBe(43_200);
  });

  it.each([
    ['true', true],
    ['false', false],
  ])('reads force_refresh=%s', (raw, expected) => {
    // Act
    const query = parse({ force_refresh: raw });

    // Assess
    expect(query.force_refresh).toBe(expected);
  });

  it.each(['TRUE', '1', 'yes', '', 'on'])('refuses force_refresh=%j', (raw) => {
    // Act
    const error = refusal(() => parse({ force_refresh: raw }));

    // Assess
    expect(error.field).toBe('query.force_refresh');
    expect(error.message).toBe('query.force_refresh: must be true or false');
  });
});

describe('connectSessionBodySchema', () => {
  const parse = (body: Record<string, unknown>) => parseInput(connectSessionBodySchema, body, 'body');

  it('accepts a provider alone', () => {
    // Act
    const body = parse({ provider: 'lightspeed-x' });

    // Assess
    expect(body).toEqual({ provider: 'lightspeed-x' });
  });

  it.each(['https://app.example.com/integrations/done?x=1', 'http://localhost:3000/callback'])(
    'accepts return_to %s',
    (returnTo) => {
      // Act
      const body = parse({ provider: 'xentral', return_to: returnTo });

      // Assess
      expect(body.return_to).toBe(returnTo);
    },
  );

  it.each([
    'ftp://app.example.com/',
    'javascript:alert(1)',
    '/relative/path',
    'app.example.com/done',
    'data:text/html,hi',
  ])('refuses return_to %s', (returnTo) => {
    // Act
    const error = refusal(() => parse({ provider: 'xentral', return_to: returnTo }));

    // Assess
    expect(error.field).toBe('body.return_to');
    expect(error.message).toBe('body.return_to: must be an absolute http(s) URL');
  });

  it('accepts a printable reference of 256 characters', () => {
    // Act
    const body = parse({ provider: 'xentral', reference: 'r'.repeat(256) });

    // Assess
    expect(body.reference).toHaveLength(256);
  });

  it.each([
    ['a newline', 'order\n42'],
    ['a bell', 'order\u000742'],
    ['a DEL', 'order\u007f42'],
    ['a NUL', 'order\u000042'],
  ])('refuses a reference with %s', (_, reference) => {
    // Act
    const error = refusal(() => parse({ provider: 'xentral', reference }));

    // Assess
    expect(error.message).toBe('body.reference: must not contain control characters');
  });

  it.each([
    ['empty', ''],
    ['over 256 characters', 'r'.repeat(257)],
  ])('refuses a reference that is %s', (_, reference) => {
    // Act
    const error = refusal(() => parse({ provider: 'xentral', reference }));

    // Assess
    expect(error.field).toBe('body.reference');
  });
});

describe('personalTokenBodySchema', () => {
  const parse = (body: Record<string, unknown>) => parseInput(personalTokenBodySchema, body, 'body');

  it('accepts a token with a name and an expiry', () => {
    // Act
    const body = parse({
      token: 'lspt_0123456789',
      name: 'Nightly export',
      expires_at: '2027-01-31T00:00:00Z',
    });

    // Assess
    expect(body).toEqual({
      token: 'lspt_0123456789',
      name: 'Nightly export',
      expires_at: '2027-01-31T00:00:00Z',
    });
  });

  it.each([
    ['8 characters', 'abcdefgh'],
    ['4096 characters', 'x'.repeat(4096)],
    ['punctuation', 'a!b#c$d%e~f'],
  ])('accepts a token of %s', (_, token) => {
    // Act
    const body = parse({ token });

    // Assess
    expect(body.token).toBe(token);
  });

  it.each([
    ['7 characters', 'abcdefg', 'body.token: must be at least 8 characters'],
    ['4097 characters', 'x'.repeat(4097), 'body.token: must be at most 4096 characters'],
    ['a space', 'abcd efgh', 'body.token: must be printable ASCII without spaces'],
    ['a tab', 'abcd\tefgh', 'body.token: must be printable ASCII without spaces'],
    ['non-ASCII', 'tökenabcd', 'body.token: must be printable ASCII without spaces'],
  ])('refuses a token of %s', (_, token, message) => {
    // Act
    const error = refusal(() => parse({ token }));

    // Assess
    expect(error.field).toBe('body.token');
    expect(error.message).toBe(message);
  });

  it.each([
    ['UTC', '2027-01-31T00:00:00Z'],
    ['an offset', '2027-01-31T00:00:00+01:00'],
    ['fractions of a second', '2027-01-31T00:00:00.250Z'],
  ])('accepts expires_at with %s', (_, expiresAt) => {
    // Act
    const body = parse({ token: 'abcdefgh', expires_at: expiresAt });

    // Assess
    expect(body.expires_at).toBe(expiresAt);
  });

  it('accepts expires_at null for a token without expiry', () => {
    // Act
    const body = parse({ token: 'abcdefgh', expires_at: null });

    // Assess
    expect(body.expires_at).toBeNull();
  });

  it.each(['2027-01-31', 'tomorrow', '2027-02-31T00:00:00Z', '31/01/2027 00:00'])(
    'refuses expires_at %j',
    (expiresAt) => {
      // Act
      const error = refusal(() => parse({ token: 'abcdefgh', expires_at: expiresAt }));

      // Assess
      expect(error.field).toBe('body.expires_at');
      expect(error.message).toBe(
        'body.expires_at: must be an ISO 8601 date-time such as 2027-01-31T00:00:00Z',
      );
    },
  );

  it('accepts a name of 100 characters', () => {
    // Act
    const body = parse({ token: 'abcdefgh', name: 'n'.repeat(100) });

    // Assess
    expect(body.name).toHaveLength(100);
  });

  it.each([
    ['over 100 characters', 'n'.repeat(101), 'body.name: must be at most 100 characters'],
    ['empty', '', 'body.name: must not be empty'],
  ])('refuses a name that is %s', (_, name, message) => {
    // Act
    const error = refusal(() => parse({ token: 'abcdefgh', name }));

    // Assess
    expect(error.message).toBe(message);
  });
});

describe('parseJsonBody', () => {
  it.each([
    ['absent', undefined, 'body: a JSON object is required'],
    ['empty', '', 'body: a JSON object is required'],
    ['blank', '  \n', 'body: a JSON object is required'],
    ['invalid JSON', '{"provider":', 'body: is not valid JSON'],
    ['an array', '[{"provider":"xentral"}]', 'body: must be a JSON object'],
    ['null', 'null', 'body: must be a JSON object'],
    ['a number', '42', 'body: must be a JSON object'],
    ['a string', '"xentral"', 'body: must be a JSON object'],
  ])('refuses a body that is %s with a 400 naming body', (_, body, message) => {
    // Act
    const error = refusal(() => parseJsonBody(body));

    // Assess
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect(httpErrorOf(error)?.status).toBe(400);
    expect(error.field).toBe('body');
    expect(error.message).toBe(message);
  });

  it('returns a JSON object', () => {
    // Act
    const parsed = parseJsonBody('{"provider":"xentral","reference":"r-1"}');

    // Assess
    expect(parsed).toEqual({ provider: 'xentral', reference: 'r-1' });
  });
});
