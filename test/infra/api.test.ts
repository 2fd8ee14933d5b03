import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { methodsOf, routeKey, routes } from '../../functions/routes';
import { type Json, type Resource, render, type Synth, synthBroker, TEST_ENV, TEST_PROPS } from './support';

let synth: Synth;
let resources: Record<string, Resource>;

beforeAll(() => {
  synth = synthBroker();
  resources = synth.template.toJSON().Resources as Record<string, Resource>;
});

const byType = (type: string): [string, Resource][] =>
  Object.entries(resources).filter(([, resource]) => resource.Type === type);

/** The function logical id an HTTP API route invokes (route → integration → function ARN). */
const routeFunction = (route: Resource): string => {
  const target = render(route.Properties?.Target);
  const integrationId = /^integrations\/<(.+)>$/.exec(target)?.[1];
  const integration = integrationId === undefined ? undefined : resources[integrationId];
  const uri = render(integration?.Properties?.IntegrationUri);
  return /^<(.+)\.Arn>$/.exec(uri)?.[1] ?? `unresolved: ${uri}`;
};

describe('HTTP API', () => {
  it('creates exactly one route per method of each entry of the route table (GET with its HEAD), and nothing else', () => {
    const keys = byType('AWS::ApiGatewayV2::Route').map(([, route]) => route.Properties?.RouteKey);
    const expected = routes.flatMap((route) =>
      methodsOf(route).map((method) => routeKey({ method, path: route.path })),
    );
    expect([...keys].sort()).toEqual(expected.sort());
    expect(keys).toContain('HEAD /health');
    expect(keys).not.toContain('$default');
  });

  it.each(
    routes.flatMap((route) =>
      methodsOf(route).map((method) => [routeKey({ method, path: route.path }), route] as const),
    ),
  )('%s has the contract authorization and the function of its group', (key, route) => {
    const found = byType('AWS::ApiGatewayV2::Route').find(([, r]) => r.Properties?.RouteKey === key);
    expect(found, key).toBeDefined();
    const [, resource] = found!;
    expect(resource.Properties?.AuthorizationType).toBe(route.access === 'backend' ? 'AWS_IAM' : 'NONE');
    const fn = synth.stack.broker.functions[route.group];
    expect(routeFunction(resource)).toBe(synth.stack.getLogicalId(fn.node.defaultChild as never));
  });

  it('requires IAM by default, so a route added without an authorizer is not public', () => {
    const authorizer = synth.stack.broker.api.defaultAuthorizer;
    expect(authorizer?.constructor.name).toBe('HttpIamAuthorizer');
  });

  it('lets API Gateway invoke each function only from this API', () => {
    const permissions = byType('AWS::Lambda::Permission').map(([, p]) => p.Properties ?? {});
    expect(permissions.length).toBeGreaterThanOrEqual(routes.length);
    for (const permission of permissions) {
      expect(permission.Principal).toBe('apigateway.amazonaws.com');
      expect(render(permission.SourceArn)).toMatch(
        new RegExp(`^arn:aws:execute-api:${TEST_ENV.region}:${TEST_ENV.account}:<BrokerApi[0-9A-F]+>/`),
      );
    }
  });

  it('deploys one auto-deployed $default stage with default throttling', () => {
    synth.template.resourceCountIs('AWS::ApiGatewayV2::Stage', 1);
    synth.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 },
    });
  });

  it('writes JSON access logs, without paths (they carry one-time session ids), to a log group with retention', () => {
    const [[, stage]] = byType('AWS::ApiGatewayV2::Stage') as [[string, Resource]];
    const settings = stage.Properties?.AccessLogSettings as { DestinationArn: Json; Format: string };
    const format = JSON.parse(settings.Format) as Record<string, string>;
    expect(format.requestId).toBe('$context.requestId');
    expect(format.routeKey).toBe('$context.routeKey');
    expect(format.status).toBe('$context.status');
    expect(format.caller).toBe('$context.identity.userArn');
    expect(settings.Format).not.toMatch(/\$context\.(path|requestOverride|authorizer\.claims)/);
    const logGroupId = /^<(.+)\.Arn>$/.exec(render(settings.DestinationArn))?.[1];
    expect(resources[logGroupId!]?.Type).toBe('AWS::Logs::LogGroup');
    expect(resources[logGroupId!]?.Properties?.RetentionInDays).toBe(30);
  });

  it('gives the functions the API URL without a trailing slash as BROKER_PUBLIC_URL', () => {
    synth.template.allResourcesProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          BROKER_PUBLIC_URL: { 'Fn::GetAtt': [Match.anyValue(), 'ApiEndpoint'] },
        }),
      },
    });
  });

  it('outputs the URL and the exact redirect URI to register with Lightspeed', () => {
    const outputs = synth.template.toJSON().Outputs as Record<string, { Value: Json }>;
    const apiUrl = render(outputs.ApiUrl?.Value);
    expect(apiUrl).toMatch(/^<BrokerApi[0-9A-F]+\.ApiEndpoint>$/);
    expect(render(outputs.LightspeedXRedirectUri?.Value)).toBe(`${apiUrl}/oauth/lightspeed-x/callback`);
    expect(render(outputs.TableName?.Value)).toMatch(/^<BrokerTable[0-9A-F]+>$/);
    // The key the README's clean-up steps schedule for deletion once the table is gone.
    expect(render(outputs.TableKeyArn?.Value)).toMatch(/^<BrokerTableKey[0-9A-F]+\.Arn>$/);
  });

  it('offers a managed policy that can invoke every backend route and no public one', () => {
    const [[, policy]] = byType('AWS::IAM::ManagedPolicy') as [[string, Resource]];
    const document = policy.Properties?.PolicyDocument as { Statement: Record<string, Json>[] } | undefined;
    const statements = document?.Statement ?? [];
    expect(statements).toHaveLength(1);
    expect(statements[0]?.Action).toBe('execute-api:Invoke');
    const arns = ((statements[0]?.Resource ?? []) as Json[])
      .map(render)
      .map((arn) => arn.replace(/^.*\/\$default\//, ''));
    const expected = routes
      .filter((route) => route.access === 'backend')
      .flatMap((route) =>
        methodsOf(route).map((method) => `${method}${route.path.replace(/\{[^}]+\}/g, '*')}`),
      );
    expect(arns.sort()).toEqual(expected.sort());
  });
});

describe('HTTP API on a custom domain', () => {
  let custom: Synth;
  beforeAll(() => {
    custom = synthBroker(
      {
        ...TEST_PROPS,
        customDomain: {
          domainName: 'broker.example.com',
          certificateArn: `arn:aws:acm:${TEST_ENV.region}:${TEST_ENV.account}:certificate/11111111-2222-3333-4444-555555555555`,
          hostedZoneId: 'Z0123456789ABCDEFGHIJ',
          hostedZoneName: 'example.com',
        },
      },
      { stackName: 'CustomDomainBroker' },
    );
  });

  it('maps the domain to the $default stage and points an alias record at it', () => {
    custom.template.hasResourceProperties('AWS::ApiGatewayV2::DomainName', {
      DomainName: 'broker.example.com',
    });
    custom.template.resourceCountIs('AWS::ApiGatewayV2::ApiMapping', 1);
    custom.template.hasResourceProperties('AWS::Route53::RecordSet', {
      Name: 'broker.example.com.',
      Type: 'A',
      HostedZoneId: 'Z0123456789ABCDEFGHIJ',
    });
  });

  it('uses the custom domain as public URL and redirect URI', () => {
    custom.template.allResourcesProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ BROKER_PUBLIC_URL: 'https://broker.example.com' }) },
    });
    custom.template.hasOutput('LightspeedXRedirectUri', {
      Value: 'https://broker.example.com/oauth/lightspeed-x/callback',
    });
  });
});
