/**
 * Every OAuth provider of the registry configured at once, some client secrets created and some
 * imported by ARN: one secret each, read only by the functions that call a token endpoint, every
 * provider's variables on the functions, the public install route, and no cdk-nag finding.
 */
import type { App } from 'aws-cdk-lib';
import { App as CdkApp } from 'aws-cdk-lib';
import { beforeAll, describe, expect, it } from 'vitest';
import { routeKey, routes } from '../../functions/routes';
import { compliancePacks } from '../../infra/compliance';
import { readBrokerContext } from '../../infra/context';
import type { TokenBrokerStackProps } from '../../infra/stack';
import { type BrokerFunctionName, OAUTH_PROVIDERS, type OAuthProviderId } from '../../infra/token-broker';
import { ENV, loadConfig } from '../../shared/config';
import { PROVIDER_DEFINITIONS } from '../../shared/providers';
import {
  allows,
  functionIds,
  functionStatements,
  type Json,
  type Resource,
  render,
  type Statement,
  type Synth,
  synthBroker,
  TEST_ENV,
  TEST_PROPS,
} from './support';

const NAMES: readonly BrokerFunctionName[] = ['public', 'tokens', 'admin', 'sweep'];
const secretArn = (name: string) =>
  `arn:aws:secretsmanager:${TEST_ENV.region}:${TEST_ENV.account}:secret:${name}-AbCdEf`;

const OAUTH_DEFINITIONS = PROVIDER_DEFINITIONS.flatMap((d) =>
  d.oauth === undefined ? [] : [{ id: d.id as OAuthProviderId, oauth: d.oauth, displayName: d.displayName }],
);
/** Every other provider imports its secret; the rest get one created. */
const IMPORTED = new Map(
  OAUTH_DEFINITIONS.filter((_, i) => i % 2 === 1).map(({ id }) => [id, secretArn(`ops/${id}-client-secret`)]),
);
/** Every provider but the last names its scopes: the last keeps the definition's default. */
const WITH_SCOPES = new Set(OAUTH_DEFINITIONS.slice(0, -1).map(({ id }) => id));

const ALL_PROVIDERS: TokenBrokerStackProps = {
  ...TEST_PROPS,
  providers: Object.fromEntries(
    OAUTH_DEFINITIONS.map(({ id, oauth }) => [
      id,
      {
        clientId: `${id}-client-id`,
        ...(IMPORTED.has(id) ? { clientSecretArn: IMPORTED.get(id) } : {}),
        ...(WITH_SCOPES.has(id) ? { scopes: [oauth.scopes.example] } : {}),
      },
    ]),
  ),
};

let synth: Synth;
let resources: Record<string, Resource>;
let statements: Record<BrokerFunctionName, Statement[]>;
/** How IAM statements name each provider's client secret: `<LogicalId>` when created, the ARN when imported. */
let secretRefs: Record<OAuthProviderId, string>;

const envOf = (name: BrokerFunctionName): Record<string, Json> => {
  const { functionId } = functionIds(synth, name);
  const environment = resources[functionId]?.Properties?.Environment as
    | { Variables: Record<string, Json> }
    | undefined;
  if (environment === undefined) throw new Error(`no environment on ${name}`);
  return environment.Variables;
};

beforeAll(() => {
  synth = synthBroker(ALL_PROVIDERS, { stackName: 'AllProviders' });
  resources = synth.template.toJSON().Resources as Record<string, Resource>;
  statements = Object.fromEntries(NAMES.map((name) => [name, functionStatements(synth, name)])) as Record<
    BrokerFunctionName,
    Statement[]
  >;
  secretRefs = Object.fromEntries(
    OAUTH_DEFINITIONS.map(({ id }) => {
      const secret = synth.stack.broker.clientSecrets[id];
      if (secret === undefined) throw new Error(`no client secret for ${id}`);
      const imported = IMPORTED.get(id);
      return [id, imported ?? `<${synth.stack.getLogicalId(secret.node.defaultChild as never)}>`];
    }),
  ) as Record<OAuthProviderId, string>;
});

describe('every OAuth provider configured, secrets created and imported', () => {
  it('configures all five OAuth providers of the registry (the test covers each one)', () => {
    expect(OAUTH_DEFINITIONS.map(({ id }) => id).sort()).toEqual(Object.keys(OAUTH_PROVIDERS).sort());
    expect(OAUTH_DEFINITIONS).toHaveLength(5);
    expect(IMPORTED.size).toBeGreaterThan(0);
  });

  it('creates one secret per provider without an ARN and imports the others', () => {
    const created = Object.values(resources).filter((r) => r.Type === 'AWS::SecretsManager::Secret');
    expect(created).toHaveLength(OAUTH_DEFINITIONS.length - IMPORTED.size);
    for (const { id, oauth } of OAUTH_DEFINITIONS.filter(({ id }) => !IMPORTED.has(id))) {
      expect(
        created.filter((r) => String(r.Properties?.Description).startsWith(`${oauth.portalName} OAuth`)),
        id,
      ).toHaveLength(1);
    }
    for (const [id, arn] of IMPORTED) expect(synth.stack.broker.clientSecrets[id]?.secretArn).toBe(arn);
  });

  it('lets public, tokens and sweep read every provider secret, admin none, and nobody change one', () => {
    for (const { id } of OAUTH_DEFINITIONS) {
      for (const name of NAMES) {
        expect(
          allows(statements[name], 'secretsmanager:GetSecretValue', secretRefs[id]),
          `${name} ${id}`,
        ).toBe(name !== 'admin');
        for (const action of ['PutSecretValue', 'UpdateSecret', 'DeleteSecret']) {
          expect(
            allows(statements[name], `secretsmanager:${action}`, secretRefs[id]),
            `${name} ${action}`,
          ).toBe(false);
        }
      }
    }
  });

  it('grants the secret reads per secret: exactly the configured secrets, nothing wider', () => {
    const expected = new Set(Object.values(secretRefs));
    for (const name of ['public', 'sweep'] as const) {
      const read = statements[name].filter((s) => s.actions.includes('secretsmanager:GetSecretValue'));
      expect(new Set(read.flatMap((s) => s.resources)), name).toEqual(expected);
    }
    // tokens also reads personal tokens, under their prefix only.
    const tokensReads = statements.tokens
      .filter((s) => s.actions.includes('secretsmanager:GetSecretValue'))
      .flatMap((s) => s.resources)
      .filter((resource) => !resource.includes(':secret:allproviders/personal/'));
    expect(new Set(tokensReads)).toEqual(expected);
    expect(allows(statements.tokens, 'secretsmanager:GetSecretValue', secretArn('ops/unrelated'))).toBe(
      false,
    );
  });

  it("sets every provider's client id, secret ARN and scopes variables from its definition", () => {
    for (const name of NAMES) {
      const env = envOf(name);
      for (const { id, oauth } of OAUTH_DEFINITIONS) {
        expect(env[oauth.env.clientId], `${name} ${id}`).toBe(`${id}-client-id`);
        if (WITH_SCOPES.has(id)) expect(env[oauth.env.scopes], `${name} ${id}`).toBe(oauth.scopes.example);
        // No variable: the function uses the definition's default scopes.
        else expect(env, `${name} ${id}`).not.toHaveProperty(oauth.env.scopes);
        expect(env, `${name} ${id}`).not.toHaveProperty(oauth.env.clientSecret);
        if (name === 'admin') {
          expect(env, id).not.toHaveProperty(oauth.env.clientSecretArn);
          continue;
        }
        const arn = env[oauth.env.clientSecretArn];
        if (IMPORTED.has(id)) expect(arn, `${name} ${id}`).toBe(IMPORTED.get(id));
        else expect(`<${(arn as { Ref: string }).Ref}>`, `${name} ${id}`).toBe(secretRefs[id]);
      }
    }
  });

  it('hands the functions an environment the broker configuration accepts for every provider', () => {
    for (const name of NAMES) {
      const env = Object.fromEntries(
        Object.entries(envOf(name)).map(([key, value]) => [
          key,
          key === ENV.publicUrl ? 'https://abc.execute-api.eu-central-1.amazonaws.com' : String(value),
        ]),
      );
      const config = loadConfig(env);
      for (const { id, oauth } of OAUTH_DEFINITIONS) {
        expect(config.providers[id]?.app?.clientId, `${name} ${id}`).toBe(`${id}-client-id`);
        expect(config.providers[id]?.app?.scopes, `${name} ${id}`).toEqual(
          WITH_SCOPES.has(id) ? [oauth.scopes.example] : oauth.scopes.default,
        );
      }
    }
  });

  it('outputs a redirect URI and a client-secret ARN per provider', () => {
    const outputs = synth.template.toJSON().Outputs as Record<string, { Value: Json }>;
    for (const { id } of OAUTH_DEFINITIONS) {
      const pascal = id.replace(/(^|-)([a-z])/g, (_, __, c: string) => c.toUpperCase());
      expect(outputs, id).toHaveProperty(`${pascal}RedirectUri`);
      expect(outputs, id).toHaveProperty(`${pascal}ClientSecretArn`);
    }
  });

  it('outputs the install URL (the app URL to register) only for providers whose installs start on their side', () => {
    const outputs = synth.template.toJSON().Outputs as Record<string, { Value: Json }>;
    expect(Object.keys(outputs).filter((key) => key.endsWith('InstallUrl'))).toEqual(['ShopifyInstallUrl']);
    expect(render(outputs.ShopifyInstallUrl?.Value)).toMatch(
      /^<BrokerApi\w+\.ApiEndpoint>\/oauth\/shopify\/install$/,
    );
    expect(Object.keys(synth.stack.broker.installUrls)).toEqual(['shopify']);
  });

  it('serves GET (and HEAD) /oauth/{provider}/install without IAM auth, like the callback, on the public function', () => {
    const install = routes.find((r) => r.path === '/oauth/{provider}/install');
    expect(install).toMatchObject({ method: 'GET', access: 'public', group: 'public' });
    const routeResources = Object.values(resources).filter((r) => r.Type === 'AWS::ApiGatewayV2::Route');
    for (const path of ['/oauth/{provider}/install', '/oauth/{provider}/callback']) {
      for (const method of ['GET', 'HEAD'] as const) {
        const route = routeResources.find((r) => r.Properties?.RouteKey === routeKey({ method, path }));
        expect(route?.Properties?.AuthorizationType, `${method} ${path}`).toBe('NONE');
      }
    }
  });

  it('passes cdk-nag with no unacknowledged finding', () => {
    const app: App = synth.app;
    const findings = compliancePacks().flatMap((pack) =>
      pack
        .validateScope(app)
        .violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} @ ${r.constructPath}`)),
    );
    expect(findings).toEqual([]);
  });

  it('refuses a provider id the registry does not have, naming it', () => {
    expect(() =>
      synthBroker(
        { ...TEST_PROPS, providers: { toast: { clientId: 'x' } } as TokenBrokerStackProps['providers'] },
        { stackName: 'Unknown' },
      ),
    ).toThrow(/providers\.toast: no OAuth provider has this id \(known: lightspeed-x, shopify/);
  });
});

describe('context keys of every OAuth provider', () => {
  const contextOf = (context: Record<string, unknown>) => readBrokerContext(new CdkApp({ context }).node);

  it('reads <context>ClientId, ClientSecretArn and Scopes of each provider from its definition', () => {
    const context: Record<string, string> = {};
    for (const { id, oauth } of OAUTH_DEFINITIONS) {
      context[`${oauth.context}ClientId`] = `${id}-client-id`;
      context[`${oauth.context}Scopes`] = `${oauth.scopes.example},${oauth.scopes.example}`;
      if (IMPORTED.has(id)) context[`${oauth.context}ClientSecretArn`] = IMPORTED.get(id) ?? '';
    }
    expect(Object.keys(context)).toEqual(
      expect.arrayContaining(['shopifyClientId', 'squareClientId', 'cloverClientId', 'lightspeedRClientId']),
    );
    const { props } = contextOf(context);
    for (const { id, oauth } of OAUTH_DEFINITIONS) {
      expect(props.providers?.[id], id).toEqual({
        clientId: `${id}-client-id`,
        scopes: [oauth.scopes.example, oauth.scopes.example],
        ...(IMPORTED.has(id) ? { clientSecretArn: IMPORTED.get(id) } : {}),
      });
    }
  });

  it.each([
    [{ squareScopes: 'MERCHANT_PROFILE_READ' }, /^context squareScopes need squareClientId/],
    [{ cloverClientSecretArn: secretArn('x') }, /^context cloverClientSecretArn need cloverClientId/],
    [
      { lightspeedRClientId: 'id', lightspeedRClientSecretArn: 'ops/secret' },
      /^context lightspeedRClientSecretArn must be the complete ARN .* got "ops\/secret"/,
    ],
    [
      { lightspeedXClientId: 'id' },
      /^context lightspeedXClientId names no OAuth provider; .*lightspeed, shopify, square, clover, lightspeedR$/,
    ],
    [{ ShopifyClientId: 'id' }, /^context ShopifyClientId names no OAuth provider/],
  ])('rejects %o naming the key', (context, message) => {
    expect(() => contextOf(context)).toThrow(message);
  });

  it('fails the synth naming the variable when a provider scope is malformed', () => {
    expect(() =>
      synthBroker(
        { ...TEST_PROPS, providers: { square: { clientId: 'id', scopes: ['merchant-profile-read'] } } },
        { stackName: 'BadScopes' },
      ),
    ).toThrow(/SQUARE_SCOPES has an invalid scope "merchant-profile-read"/);
  });
});
