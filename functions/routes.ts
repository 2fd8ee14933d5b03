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
}

export const routes: readonly RouteSpec[] = Object.freeze([
  { method: 'GET', path: '/health', group: 'public', access: 'public' },
  // Addition to the contract: this API's OpenAPI 3.1 description.
  { method: 'GET', path: '/openapi.json', group: 'public', access: 'public' },
  { method: 'GET', path: '/connect/{session_id}', group: 'public', access: 'public' },
  { method: 'GET', path: '/oauth/{provider}/callback', group: 'public', access: 'public' },
  { method: 'GET', path: '/tokens/{provider}/{account}', group: 'tokens', access: 'backend' },
  { method: 'POST', path: '/connect-sessions', group: 'admin', access: 'backend' },
  { method: 'GET', path: '/connections', group: 'admin', access: 'backend' },
  { method: 'GET', path: '/connections/{provider}/{account}', group: 'admin', access: 'backend' },
  { method: 'DELETE', path: '/connections/{provider}/{account}', group: 'admin', access: 'backend' },
  { method: 'PUT', path: '/personal-tokens/{provider}/{account}', group: 'admin', access: 'backend' },
  { method: 'DELETE', path: '/personal-tokens/{provider}/{account}', group: 'admin', access: 'backend' },
] as const);

/** `GET /tokens/{provider}/{account}`: the API Gateway v2 route key of a route. */
export const routeKey = (route: Pick<RouteSpec, 'method' | 'path'>): string =>
  `${route.method} ${route.path}`;
