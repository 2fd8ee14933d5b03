/**
 * RFC 6749 pieces shared by OAuth providers: the form-encoded token request and the classification
 * of token-endpoint answers. Provider files add their own quirks on top.
 */
import { ProviderError } from '../domain/errors';
import { parseRetryAfter } from './retry-after';
import type { ProviderRequest, ProviderResponse } from './types';

/** A token-endpoint POST: parameters only in an x-www-form-urlencoded body, never in the query. */
export function formPost(url: string, params: Record<string, string>): ProviderRequest {
  return {
    url,
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams(params).toString(),
  };
}

/** Parses a JSON object body, or undefined (HTML error pages and truncated bodies are common). */
export function jsonObject(body: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(body);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Classifies a non-2xx token-endpoint answer. Keeps the provider's `error` code, never its body. */
export function tokenEndpointFailure(response: ProviderResponse): ProviderError {
  const { status } = response;
  const error = jsonObject(response.body)?.error;
  const providerError = typeof error === 'string' && /^[\w. -]{1,64}$/.test(error) ? error : undefined;
  const retryAfterSeconds = parseRetryAfter(response.headers.get('retry-after'), response.receivedAt);
  const details = { status, providerError, retryAfterSeconds };
  if (status === 429 || status >= 500) {
    return new ProviderError('transient', `token endpoint answered ${status}`, details);
  }
  if (providerError === 'invalid_grant') {
    return new ProviderError('invalid_grant', 'the provider refused the grant (invalid_grant)', details);
  }
  return new ProviderError(
    'invalid_client',
    `token endpoint refused the broker's request with ${status}${providerError ? ` (${providerError})` : ''}`,
    details,
  );
}
