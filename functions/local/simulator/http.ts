/**
 * The simulators' HTTP plumbing on bare node:http: bounded bodies, JSON/HTML answers with the same
 * headers everywhere, and pauses that end when the client goes away. Nothing here logs: requests
 * carry client secrets, codes and tokens.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';

export const MAX_BODY_BYTES = 64 * 1024;
export const FORM_TYPE = 'application/x-www-form-urlencoded';
export const NO_STORE: OutgoingHttpHeaders = { 'cache-control': 'no-store', pragma: 'no-cache' };

export function requestUrl(req: IncomingMessage): URL | undefined {
  try {
    return new URL(req.url ?? '/', 'http://simulator.invalid');
  } catch {
    return undefined;
  }
}

export function contentTypeIs(req: IncomingMessage, type: string): boolean {
  return (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() === type;
}

export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  return address === '::1' || /^(?:::ffff:)?127\./.test(address);
}

export function bearerToken(req: IncomingMessage): string | undefined {
  return /^Bearer +([A-Za-z0-9._~+/=-]+) *$/i.exec(req.headers.authorization ?? '')?.[1];
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function nonNegativeInteger(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative integer`);
  }
  return value;
}

/** Resolves the body, or undefined when it exceeds 64 KiB (the rest is drained, not buffered). */
export function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > MAX_BODY_BYTES) {
      req.resume();
      resolve(undefined);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    req.on('data', (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        settled = true;
        chunks.length = 0;
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (settled) return;
      settled = true;
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', (error) => {
      if (settled) return;
      settled = true;
      reject(error);
    });
    req.on('close', () => {
      if (settled) return;
      settled = true;
      reject(new Error('request closed before its body was read'));
    });
  });
}

export function send(
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string,
  headers: OutgoingHttpHeaders = {},
): void {
  // A client that gave up (hang fault, abort) leaves nothing to write to.
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(body);
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: OutgoingHttpHeaders = {},
): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(body), headers);
}

export function sendTooLarge(res: ServerResponse): void {
  sendJson(
    res,
    413,
    { error: 'payload_too_large', message: `request bodies are limited to ${MAX_BODY_BYTES} bytes` },
    { connection: 'close' },
  );
}

export function sendNotFound(res: ServerResponse): void {
  sendJson(res, 404, { error: 'not_found', message: 'no such simulator endpoint' });
}

export function sendMethodNotAllowed(res: ServerResponse, allow: string): void {
  sendJson(res, 405, { error: 'method_not_allowed', message: `use ${allow}` }, { allow });
}

export function redirect(res: ServerResponse, location: string): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(302, { location, 'content-length': 0, ...NO_STORE });
  res.end();
}

/** Aborts when the client goes away before the response has been written. */
export function abortOnClose(res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  return controller.signal;
}

/** Waits `ms`; resolves false if the client went away meanwhile. */
export async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false;
  if (ms <= 0) return true;
  try {
    await delay(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

/** A JSON object body as string parameters (numbers and booleans as their text); undefined if it is not one. */
export function jsonParams(body: string): URLSearchParams | undefined {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (!isRecord(value)) return undefined;
  const params = new URLSearchParams();
  for (const [name, field] of Object.entries(value)) {
    if (typeof field === 'string' || typeof field === 'number' || typeof field === 'boolean') {
      params.set(name, String(field));
    } else if (field !== null) return undefined;
  }
  return params;
}
