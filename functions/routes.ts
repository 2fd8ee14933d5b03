/**
 * The route table of the public contract (../shared/docs/api.md), the one place both runtimes read:
 * the local runtime matches requests against it, and the CDK stack creates one HTTP API route per
 * entry, with AWS_IAM authorization on every `backend` route.
 */
export type FunctionGroup = 'public' | 'tokens' | 'admin';
export type Access = 'public' | 'backend';
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface RouteSpec {
  readonly method: HttpMethod;
  /** API Gateway path template: `{name}` is one path segment. */
  readonly path: string;
  /** Which Lambda function (functions/<group>.ts) serves the route. */
  readonly group: FunctionGroup;
  readonly access: Access;
  /** Opened by a retailer's browser: every answer is an HTML page, failures included. */
  readonly browser?: boolean;
}

export const routes: readonly RouteSpec[] = Object.freeze([
  { method: 'GET', path: '/health', group: 'public', access: 'public' },
  // Addition to the contract: this API's OpenAPI 3.1 description.
  { method: 'GET', path: '/openapi.json', group: 'public', access: 'public' },
  { method: 'GET', path: '/connect/{session_id}', group: 'public', access: 'public', browser: true },
  { method: 'GET', path: '/oauth/{provider}/callback', group: 'public', access: 'public', browser: true },
  // Addition to the contract (v1.1): an installation that starts at the provider (Shopify's app URL).
  { method: 'GET', path: '/oauth/{provider}/install', group: 'public', access: 'public', browser: true },
  { method: 'GET', path: '/tokens/{provider}/{account}', group: 'tokens', access: 'backend' },
  { method: 'POST', path: '/connect-sessions', group: 'admin', access: 'backend' },
  { method: 'GET', path: '/connections', group: 'admin', access: 'backend' },
  { method: 'GET', path: '/connections/{provider}/{account}', group: 'admin', access: 'backend' },
  { method: 'DELETE', path: '/connections/{provider}/{account}', group: 'admin', access: 'backend' },
  { method: 'PUT', path: '/personal-tokens/{provider}/{account}', group: 'admin', access: 'backend' },
  { method: 'DELETE', path: '/personal-tokens/{provider}/{account}', group: 'admin', access: 'backend' },
] as const);

/** `GET /tokens/{provider}/{account}`: the API Gateway v2 route key of a route. */
export const routeKey = (route: { readonly method: HttpMethod | 'HEAD'; readonly path: string }): string =>
  `${route.method} ${route.path}`;

/**
 * The methods a route answers: every `GET` also answers `HEAD`, like `GET` without a body
 * (RFC 9110 §9.3.2); link checkers and monitors use it.
 */
export const methodsOf = (route: Pick<RouteSpec, 'method'>): readonly ('HEAD' | HttpMethod)[] =>
  route.method === 'GET' ? ['GET', 'HEAD'] : [route.method];

/** The route key of the `GET` a `HEAD` stands for (other route keys unchanged). */
export const getKeyOf = (key: string): string => (key.startsWith('HEAD ') ? `GET ${key.slice(5)}` : key);
