/** The OpenAPI document describes every route and error code of the contract (docs/api.md). */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApiDocument } from '../../../functions/http/openapi';
import { routes } from '../../../functions/routes';
import { startTestBroker, type TestBroker } from '../../helpers/broker';

type Operation = {
  responses: Record<string, unknown>;
  security: unknown[];
  parameters?: { name: string; in: string }[];
};
type Document = {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: { Error: { properties: { error: { enum: string[] } } } } };
};

const contract = await readFile('docs/api.md', 'utf8');
/** `| B | \`GET /tokens/{provider}/{account}\` | …` rows of the contract's route table. */
const contractRoutes = [...contract.matchAll(/^\| [PB] \| `(GET|POST|PUT|DELETE) ([^`]+)`/gm)].map(
  ([, method, path]) => ({
    method: method!,
    path: path!,
  }),
);
/** `| 409 | \`token_expired\` | …` rows of the contract's error table. */
const contractErrors = [...contract.matchAll(/^\| (\d{3}) \| `([a-z_]+)` \|/gm)].map(([, status, code]) => ({
  status: status!,
  code: code!,
}));

const document = openApiDocument('https://broker.example.com') as unknown as Document;

describe('OpenAPI document', () => {
  it('reads the contract tables it checks against', () => {
    expect(contractRoutes.length).toBe(11);
    expect(contractErrors.map((e) => e.code)).toEqual([
      'invalid_request',
      'unauthorized',
      'not_found',
      'reauthorization_required',
      'token_expired',
      'provider_unavailable',
    ]);
  });

  it('is OpenAPI 3.1 and describes every route of the contract', () => {
    expect(document.openapi).toBe('3.1.0');
    for (const { method, path } of contractRoutes) {
      expect(document.paths[path]?.[method.toLowerCase()], `${method} ${path}`).toBeDefined();
    }
    for (const route of routes)
      expect(document.paths[route.path]?.[route.method.toLowerCase()]).toBeDefined();
  });

  it('describes every error code of the contract, on the routes that can answer it', () => {
    const codes = document.components.schemas.Error.properties.error.enum;
    for (const { code } of contractErrors) expect(codes).toContain(code);
    const token = document.paths['/tokens/{provider}/{account}']?.get;
    for (const status of ['200', '400', '401', '404', '409', '503'])
      expect(Object.keys(token?.responses ?? {})).toContain(status);
    for (const route of routes.filter((r) => r.access === 'backend')) {
      const operation = document.paths[route.path]?.[route.method.toLowerCase()];
      expect(Object.keys(operation?.responses ?? {}), `${route.method} ${route.path}`).toContain('401');
      expect(operation?.security.length).toBeGreaterThan(0);
    }
  });

  it('takes its query parameters from the schemas that validate requests', () => {
    const token = document.paths['/tokens/{provider}/{account}']?.get;
    expect(token?.parameters?.filter((p) => p.in === 'query').map((p) => p.name)).toEqual([
      'min_valid_seconds',
      'force_refresh',
    ]);
    const list = document.paths['/connections']?.get;
    expect(list?.parameters?.map((p) => p.name)).toEqual(['provider', 'status', 'limit', 'next_token']);
  });
});

describe('GET /openapi.json', () => {
  let t: TestBroker;
  beforeAll(async () => {
    t = await startTestBroker();
  });
  afterAll(() => t.close());

  it('serves the document without authentication, with the broker as server', async () => {
    const response = await fetch(`${t.url}/openapi.json`);
    expect(response.status).toBe(200);
    const served = (await response.json()) as { servers: { url: string }[]; paths: object };
    expect(served.servers[0]?.url).toBe(t.url);
    expect(Object.keys(served.paths)).toContain('/tokens/{provider}/{account}');
  });
});
