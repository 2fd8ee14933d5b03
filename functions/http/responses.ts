/** API Gateway v2 (HTTP API) responses, the one format both runtimes return. */
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';

export type HttpResult = APIGatewayProxyStructuredResultV2 & { headers: Record<string, string> };

/** Every API answer is private to its caller; tokens must never sit in a shared cache. */
const API_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };

/** Pages for retailers' browsers: nothing from third parties, no referrer leaking the callback query. */
const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
};

/** A JSON answer. */
export const json = (
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): HttpResult => ({
  statusCode,
  headers: { ...API_HEADERS, ...headers },
  body: JSON.stringify(body),
});

export const noContent = (): HttpResult => ({ statusCode: 204, headers: { 'cache-control': 'no-store' } });

/** An HTML page. */
export const page = (statusCode: number, html: string, cookies?: string[]): HttpResult => ({
  statusCode,
  headers: { ...PAGE_HEADERS },
  body: html,
  ...(cookies === undefined ? {} : { cookies }),
});

/** A redirect (302 to a provider, 303 back to the SaaS app). */
export const redirect = (statusCode: 302 | 303, location: string, cookies?: string[]): HttpResult => ({
  statusCode,
  headers: { location, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' },
  ...(cookies === undefined ? {} : { cookies }),
});
