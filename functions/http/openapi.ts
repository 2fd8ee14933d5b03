/**
 * The OpenAPI 3.1 description of the public contract, generated from the route table and from the
 * same zod schemas that validate requests, so the document cannot drift from what is enforced.
 * Served at `GET /openapi.json`.
 */
import * as z from 'zod/mini';
import { loadConfig } from '../../shared/config';
import { ANY_ACCOUNT_PATTERN } from '../../shared/domain/model';
import { createProviders, PROVIDER_DEFINITIONS, PROVIDER_IDS } from '../../shared/providers';
import { type RouteSpec, routes } from '../routes';
import { PUBLIC_ERROR_CODES } from './errors';
import {
  connectSessionBodySchema,
  listQuerySchema,
  personalTokenBodySchema,
  tokenQuerySchema,
} from './requests';

type JsonSchema = Record<string, unknown>;

const schema = (type: z.core.$ZodType): JsonSchema => {
  const { $schema: _, ...rest } = z.toJSONSchema(type, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  return rest;
};

/** Response shapes (documentation only: responses are built by the presenters and the error table). */
const responses = {
  Error: z.object({
    error: z.enum(PUBLIC_ERROR_CODES),
    message: z.string().check(z.describe('for a person; never a token or a provider body')),
  }),
  Token: z.object({
    provider: z.enum(PROVIDER_IDS),
    account: z.string(),
    access_token: z.string(),
    token_type: z.literal('Bearer'),
    expires_at: z.nullable(z.iso.datetime()).check(z.describe('null for a personal token without expiry')),
    source: z.enum(['oauth', 'personal']),
    api_base_url: z.url(),
    stale: z
      .optional(z.literal(true))
      .check(z.describe('degraded mode: the refresh failed transiently, the stored token is still valid')),
  }),
  Connection: z.object({
    provider: z.enum(PROVIDER_IDS),
    account: z.string(),
    source: z.enum(['oauth', 'personal']),
    status: z.enum(['active', 'reauthorization_required', 'expired', 'expiring']),
    expires_at: z.nullable(z.iso.datetime()),
    connected_at: z.iso.datetime(),
    refreshed_at: z.nullable(z.iso.datetime()),
    reference: z.nullable(z.string()),
    name: z.optional(z.nullable(z.string())).check(z.describe('personal tokens')),
    last_error: z.optional(z.nullable(z.string())).check(z.describe('OAuth: the last refresh error code')),
  }),
  ConnectSession: z.object({ id: z.string(), connect_url: z.url(), expires_at: z.iso.datetime() }),
} as const;

const ref = (name: keyof typeof responses | 'ConnectionList') => ({ $ref: `#/components/schemas/${name}` });

const ERROR_TEXT: Record<number, string> = {
  400: 'invalid_request: bad path, query or body (the message names the field)',
  401: 'unauthorized: caller not authenticated',
  404: 'not_found: no such connection or session',
  409: 'reauthorization_required (the retailer must connect again) or token_expired (a personal token past its expiry)',
  503: 'provider_unavailable: the token must be refreshed and the provider is failing; Retry-After is set',
};

const errorResponse = (status: number) => ({
  description: ERROR_TEXT[status] ?? 'error',
  content: { 'application/json': { schema: ref('Error') } },
  ...(status === 503
    ? { headers: { 'Retry-After': { schema: { type: 'integer' }, description: 'seconds' } } }
    : {}),
});

/**
 * The query parameters by which the built-in providers' callbacks name the account. Built when the
 * document is (on the first `GET /openapi.json`), not when a function starts.
 */
const callbackAccountParameters = (): string[] => [
  ...new Set(
    Object.values(createProviders(loadConfig({})))
      .map((provider) => provider.oauth?.callbackAccount?.parameter)
      .filter((name): name is string => name !== undefined),
  ),
];

const html = (description: string) => ({
  description,
  content: { 'text/html': { schema: { type: 'string' } } },
});
const jsonBody = (description: string, body: JsonSchema) => ({
  description,
  content: { 'application/json': { schema: body } },
});

/** Per route: summary, request and the responses the contract lists. */
function operation(route: RouteSpec): Record<string, unknown> {
  const key = `${route.method} ${route.path}`;
  const backend = route.access === 'backend';
  const errors = (...codes: number[]) =>
    Object.fromEntries(codes.map((code) => [String(code), errorResponse(code)]));
  const auth = backend ? errors(401) : {};
  switch (key) {
    case 'GET /health':
      return {
        summary: 'Liveness: the broker answers and reaches its store',
        responses: {
          '200': jsonBody('ok', { type: 'object', properties: { status: { const: 'ok' } } }),
          '503': jsonBody('the store cannot be reached (an addition)', {
            type: 'object',
            properties: { status: { const: 'unavailable' }, message: { type: 'string' } },
          }),
        },
      };
    case 'GET /openapi.json':
      return { summary: 'This document', responses: { '200': jsonBody('OpenAPI 3.1', { type: 'object' }) } };
    case 'POST /connect-sessions':
      return {
        summary: 'Create a single-use connect link for a retailer (10 minutes)',
        requestBody: {
          required: true,
          content: { 'application/json': { schema: schema(connectSessionBodySchema) } },
        },
        responses: { '201': jsonBody('the session', ref('ConnectSession')), ...errors(400), ...auth },
      };
    case 'GET /connect/{session_id}':
      return {
        summary: "Send the retailer's browser to the provider (sets the cookie binding the state)",
        responses: {
          '302': {
            description: 'to the provider authorization URL',
            headers: { 'Set-Cookie': { schema: { type: 'string' } } },
          },
          '410': html('unknown, expired or used session'),
        },
      };
    case 'GET /oauth/{provider}/install':
      return {
        summary:
          "An installation started at the provider (Shopify's app URL), signed with the app's client secret",
        parameters: ['shop', 'hmac', 'timestamp', 'host'].map((name) => ({
          name,
          in: 'query',
          required: false,
          schema: { type: 'string' },
        })),
        responses: {
          '302': { description: "to the provider's authorization page, with the binding cookie" },
          '400': html('a provider without installs, an invalid shop, a bad or stale signature'),
        },
      };
    case 'GET /oauth/{provider}/callback':
      return {
        summary: 'The registered redirect URI',
        // The account parameters the providers' callbacks carry (lightspeed-x: domain_prefix).
        parameters: ['code', 'state', 'error', ...callbackAccountParameters()].map((name) => ({
          name,
          in: 'query',
          required: false,
          schema: { type: 'string' },
        })),
        responses: {
          '200': html('connected or declined page (session without return_to)'),
          '303': { description: 'to return_to with status=connected|denied, provider, account, reference' },
          '400': html(
            "missing, unknown, expired or replayed state, no matching cookie, an invalid account parameter, a bad signature, or another account than the connect session's",
          ),
          '502': html("the provider's token endpoint failed; nothing stored"),
        },
      };
    case 'GET /tokens/{provider}/{account}':
      return {
        summary: 'A current access token, refreshed exactly once when needed',
        responses: {
          '200': {
            ...jsonBody('the token (Cache-Control: no-store)', ref('Token')),
            headers: { 'Cache-Control': { schema: { const: 'no-store' } } },
          },
          ...errors(400, 404, 409, 503),
          ...auth,
        },
      };
    case 'GET /connections':
      return {
        summary: 'Connection metadata (never a token), paginated',
        responses: { '200': jsonBody('a page', ref('ConnectionList')), ...errors(400), ...auth },
      };
    case 'GET /connections/{provider}/{account}':
      return {
        summary: "One connection's metadata",
        responses: { '200': jsonBody('metadata', ref('Connection')), ...errors(400, 404), ...auth },
      };
    case 'DELETE /connections/{provider}/{account}':
      return {
        summary: 'Forget the connection and its tokens',
        responses: { '204': { description: 'deleted' }, ...errors(400, 404), ...auth },
      };
    case 'PUT /personal-tokens/{provider}/{account}':
      return {
        summary: 'Store a personal token in the secret store (never echoed)',
        requestBody: {
          required: true,
          content: { 'application/json': { schema: schema(personalTokenBodySchema) } },
        },
        responses: { '200': jsonBody('metadata', ref('Connection')), ...errors(400, 503), ...auth },
      };
    case 'DELETE /personal-tokens/{provider}/{account}':
      return {
        summary: 'Remove a personal token',
        responses: { '204': { description: 'deleted' }, ...errors(400, 404), ...auth },
      };
    default:
      throw new Error(`no OpenAPI description for ${key}`);
  }
}

const QUERY_SCHEMAS: Record<string, z.ZodMiniObject> = {
  'GET /tokens/{provider}/{account}': tokenQuerySchema,
  'GET /connections': listQuerySchema,
};

function pathParameters(route: RouteSpec) {
  return [...route.path.matchAll(/\{(\w+)\}/g)].map(([, name]) => ({
    name,
    in: 'path',
    required: true,
    schema:
      name === 'provider'
        ? { type: 'string', enum: [...PROVIDER_IDS] }
        : name === 'account'
          ? {
              type: 'string',
              pattern: ANY_ACCOUNT_PATTERN.source,
              description: `The retailer's id at the provider, in the provider's syntax: ${PROVIDER_DEFINITIONS.map(
                (definition) =>
                  `${definition.id}: ${definition.account.syntax} (${definition.account.pattern.source})`,
              ).join('; ')}`,
            }
          : { type: 'string' },
  }));
}

function queryParameters(route: RouteSpec) {
  const query = QUERY_SCHEMAS[`${route.method} ${route.path}`];
  if (query === undefined) return [];
  const properties = (schema(query).properties ?? {}) as Record<string, JsonSchema>;
  return Object.entries(properties).map(([name, property]) => ({
    name,
    in: 'query',
    required: false,
    schema: property,
  }));
}

/** Builds the OpenAPI document for a broker at `serverUrl`. */
export function openApiDocument(serverUrl: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const base = operation(route);
    const parameters = [
      ...pathParameters(route),
      ...queryParameters(route),
      ...((base.parameters as unknown[]) ?? []),
    ];
    paths[route.path] ??= {};
    paths[route.path]![route.method.toLowerCase()] = {
      ...base,
      operationId: `${route.method.toLowerCase()}${route.path.replace(/[{}]/g, '').replace(/[/.-](\w)/g, (_, c: string) => c.toUpperCase())}`,
      ...(parameters.length > 0 ? { parameters } : {}),
      security: route.access === 'backend' ? [{ sigv4: [] }, { apiKey: [] }] : [],
    };
  }
  const schemas: Record<string, JsonSchema> = Object.fromEntries(
    Object.entries(responses).map(([name, type]) => [name, schema(type)]),
  );
  schemas.ConnectionList = {
    type: 'object',
    properties: {
      connections: { type: 'array', items: ref('Connection') },
      next_token: { type: 'string' },
      apps: {
        type: 'array',
        description: 'stores connected per provider app (Lightspeed limits unapproved apps to 30)',
        items: {
          type: 'object',
          properties: {
            provider: { type: 'string' },
            client_id: { type: 'string' },
            connected_stores: { type: 'integer' },
            unapproved_app_limit: { type: ['integer', 'null'] },
          },
        },
      },
    },
    required: ['connections'],
  };
  return {
    openapi: '3.1.0',
    info: {
      title: 'Token broker',
      version: '1',
      description:
        `OAuth and personal tokens for ${providerNames()}. Backend routes need SigV4 (AWS) or ` +
        '`Authorization: Bearer $BROKER_API_KEY` (local runtime).',
    },
    servers: [{ url: serverUrl }],
    paths,
    components: {
      schemas,
      securitySchemes: {
        sigv4: {
          type: 'apiKey',
          name: 'Authorization',
          in: 'header',
          description: 'AWS SigV4 (IAM), service execute-api',
        },
        apiKey: { type: 'http', scheme: 'bearer', description: 'local runtime: BROKER_API_KEY' },
      },
    },
  };
}

/** "A, B and C": the registry's providers by name. */
function providerNames(): string {
  const names = PROVIDER_DEFINITIONS.map((definition) => definition.displayName);
  return names.length === 1 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
}
