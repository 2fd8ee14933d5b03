/** The provider HTTP port over global `fetch`, with a time limit on every call. */
import { ProviderError } from '../../domain/errors';
import type { HttpClient } from '../../providers/types';

/** Largest provider body read: token answers are small; anything bigger is not one. */
const MAX_BODY_BYTES = 256 * 1024;

/** Performs a provider request; network errors and timeouts become transient ProviderErrors. */
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
      throw new ProviderError(
        'transient',
        timedOut ? `no answer within ${timeoutMs} ms` : 'could not reach the provider',
        {},
        { cause: error },
      );
    }
    let body: string;
    try {
      body = await readLimited(response, MAX_BODY_BYTES);
    } catch (error) {
      throw new ProviderError(
        'transient',
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
