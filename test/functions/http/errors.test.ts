import { describe, expect, it } from 'vitest';
import {
  HTTP_ERRORS,
  httpErrorOf,
  InvalidRequestError,
  PUBLIC_ERROR_CODES,
  UnauthorizedError,
} from '../../../functions/http/errors';
import * as errors from '../../../shared/domain/errors';

/** One instance of every exposed error class: the HTTP layer's own two, then the domain's. */
const domainErrors: errors.BrokerError[] = [
  new InvalidRequestError('body.token', 'is required'),
  new errors.InvalidInputError('cursor', 'is not a token this broker issued'),
  new UnauthorizedError(),
  new errors.NotFoundError('no connection for lightspeed-x/demo'),
  new errors.ReauthorizationRequiredError('connect again'),
  new errors.TokenExpiredError('the personal token expired'),
  new errors.ProviderUnavailableError('the provider is failing', 30),
];

describe('HTTP error table', () => {
  it('covers every BrokerError class the domain exports, so none falls back to a 500 by omission', () => {
    // Arrange
    const classes = Object.values(errors).filter(
      (value) => typeof value === 'function' && value.prototype instanceof errors.BrokerError,
    );

    // Assess
    expect(domainErrors.map((error) => error.constructor)).toEqual(expect.arrayContaining(classes));
    expect(domainErrors).toHaveLength(classes.length + 2);
    for (const error of domainErrors) expect(HTTP_ERRORS[error.code], error.code).toBeDefined();
  });

  it('derives the public error codes (OpenAPI uses them) from the table, each once', () => {
    const answered = domainErrors.map((error) => httpErrorOf(error)?.body.error);
    expect(PUBLIC_ERROR_CODES).toEqual([...new Set(answered), 'internal_error']);
    expect(new Set(PUBLIC_ERROR_CODES).size).toBe(PUBLIC_ERROR_CODES.length);
  });

  it('keeps HTTP out of the domain: no domain error carries a status', () => {
    for (const error of domainErrors) expect(error, error.name).not.toHaveProperty('status');
  });

  it.each([
    ['InvalidRequestError', 0, 400, 'invalid_request', 'body.token: is required'],
    ['InvalidInputError', 1, 400, 'invalid_request', 'query.next_token: is not a token this broker issued'],
    ['UnauthorizedError', 2, 401, 'unauthorized', 'missing or invalid credentials'],
    ['NotFoundError', 3, 404, 'not_found', 'no connection for lightspeed-x/demo'],
    ['ReauthorizationRequiredError', 4, 409, 'reauthorization_required', 'connect again'],
    ['TokenExpiredError', 5, 409, 'token_expired', 'the personal token expired'],
    ['ProviderUnavailableError', 6, 503, 'provider_unavailable', 'the provider is failing'],
  ] as const)(
    'answers a %s with the contract status, code and message',
    (_, index, status, code, message) => {
      // Act
      const answer = httpErrorOf(domainErrors[index]);

      // Assess
      expect(answer?.status).toBe(status);
      expect(answer?.body).toEqual({ error: code, message });
    },
  );

  it('sets Retry-After from the table for provider_unavailable only', () => {
    expect(httpErrorOf(domainErrors[6])?.headers).toEqual({ 'retry-after': '30' });
    for (const error of domainErrors.slice(0, 6)) expect(httpErrorOf(error)?.headers).toEqual({});
  });

  it.each([
    ['provider', 'body.provider'],
    ['account', 'path.account'],
    ['sessionAccount', 'body.account'],
    ['returnTo', 'body.return_to'],
    ['token', 'body.token'],
    ['expiresAt', 'body.expires_at'],
    ['cursor', 'query.next_token'],
  ] as const)('names the request field of the domain input %s as %s', (input, field) => {
    expect(httpErrorOf(new errors.InvalidInputError(input, 'is wrong'))?.body).toEqual({
      error: 'invalid_request',
      message: `${field}: is wrong`,
    });
  });

  it('hides errors that are not exposed domain errors', () => {
    // Arrange
    const hidden = new errors.NotFoundError('secret detail');
    Object.defineProperty(hidden, 'expose', { value: false });

    // Assess
    expect(httpErrorOf(hidden)).toBeUndefined();
    expect(httpErrorOf(new Error('boom'))).toBeUndefined();
    expect(httpErrorOf(new errors.ProviderError('transient', 'provider failed'))).toBeUndefined();
  });
});
