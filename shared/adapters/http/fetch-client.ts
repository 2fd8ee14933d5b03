/** The provider HTTP port over global `fetch`, with a time limit on every call. */

import { ProviderError } from '../../domain/errors';
import type { HttpClient } from '../../domain/ports';

/** Largest provider body read: token answers are small; anything bigger is not one. */
const MAX_BODY_BYTES = 256 * 1024;

/**
 * Connection errors that happen before a request is written: no name resolution, nothing listening,
 * no route. Anything else (a reset, a socket closed mid-request, a timeout) may have come after the
 * provider received the request.
 */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH']);

/** The system error code of a fetch failure (undici puts it on `cause`). */
function errorCode(error: unknown): string | undefined {
  const cause = error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
  return typeof cause?.code === 'string' ? cause.code : undefined;
}

/**
 * Performs a provider request. A failure that proves the request never left becomes a transient
 * ProviderError; one after which the provider may have processed it (a timeout, a connection cut,
 * an answer broken off) an `unconfirmed` one, which the refresh protocol never retries.
 */
export function fetchHttpClient(now: () => number = Date.now): HttpClient {
  return async (request, timeoutMs) => {
    let response: Response;
    try {
      response = await fetch(request.url, {
        method: request.method,
        headers: request.headers,
        body: request.body,
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      const timedOut =
        error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
      if (timedOut) {
        throw new ProviderError('unconfirmed', `no answer within ${timeoutMs} ms`, {}, { cause: error });
      }
      // Only a connection that was never made proves the request did not reach the provider.
      const neverSent = NOT_SENT_CODES.has(errorCode(error) ?? '');
      throw new ProviderError(
        neverSent ? 'transient' : 'unconfirmed',
        neverSent ? 'could not reach the provider' : 'the connection to the provider broke off',
        {},
        { cause: error },
      );
    }
    let body: string;
    try {
      body = await readLimited(response, MAX_BODY_BYTES);
    } catch (error) {
      // The provider answered, so it processed the request: what it said is lost.
      throw new ProviderError(
        'unconfirmed',
        'the provider broke off its answer',
        { status: response.status },
        { cause: error },
      );
    }
    return { status: response.status, headers: response.headers, body, receivedAt: now() };
  };
}

async function readLimited(response: Response, limit: number): Promise<string> {
  if (response.body === null) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body) {
    size += chunk.byteLength;
    // Leaving the loop cancels the stream.
    if (size > limit) break;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
