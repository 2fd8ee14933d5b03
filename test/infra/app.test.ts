import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Duration } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Trail } from 'aws-cdk-lib/aws-cloudtrail';
import { AccountRootPrincipal, Role } from 'aws-cdk-lib/aws-iam';
import { describe, expect, it, vi } from 'vitest';
import { routes } from '../../functions/routes';
import { readBrokerContext } from '../../infra/context';
import { TokenBrokerStack, type TokenBrokerStackProps } from '../../infra/stack';
import { cdkJsonContext } from './support';

const contextOf = (context: Record<string, unknown>) => readBrokerContext(new App({ context }).node);

describe('stack configuration from CDK context', () => {
  it('needs no context at all', () => {
    const { stackName, props } = contextOf({});
    expect(stackName).toBe('TokenBroker');
    expect(props.providers).toBeUndefined();
    expect(props.customDomain).toBeUndefined();
  });

  it('reads the documented keys, as strings from -c or as JSON from cdk.json', () => {
    const { stackName, props } = contextOf({
      stackName: 'AcmeBroker',
      lightspeedClientId: 'client-123',
      lightspeedScopes: 'products:read, sales:read',
      returnToOrigins: ['https://app.example.com', 'https://admin.example.com'],
      refreshMarginSeconds: '600',
      sweepIntervalSeconds: 120,
      sweepConcurrency: '4',
      alarmEmail: 'ops@example.com',
      domainName: 'broker.example.com',
      certificateArn: 'arn:aws:acm:eu-central-1:123456789012:certificate/abc',
      logLevel: 'debug',
      logRetentionDays: '90',
      throttleRateLimit: '50',
      sourceMapStackTraces: 'false',
    });
    expect(stackName).toBe('AcmeBroker');
    expect(props.providers?.['lightspeed-x']).toEqual({
      clientId: 'client-123',
      scopes: ['products:read', 'sales:read'],
    });
    expect(props.returnToOrigins).toEqual(['https://app.example.com', 'https://admin.example.com']);
    expect(props.refreshMargin?.toSeconds()).toBe(Duration.minutes(10).toSeconds());
    expect(props.sweepInterval?.toSeconds()).toBe(120);
    expect(props.sweepConcurrency).toBe(4);
    expect(props.alarmEmail).toBe('ops@example.com');
    expect(props.customDomain).toEqual({
      domainName: 'broker.example.com',
      certificateArn: 'arn:aws:acm:eu-central-1:123456789012:certificate/abc',
    });
    expect(props.logLevel).toBe('DEBUG');
    expect(props.logRetention).toBe(90);
    expect(props.throttle).toEqual({ rateLimit: 50, burstLimit: 200 });
    expect(props.sourceMapStackTraces).toBe(false);
  });

  it('reads sourceMapStackTraces as a JSON boolean or as true/false text, and leaves it unset without the key', () => {
    expect(contextOf({ sourceMapStackTraces: true }).props.sourceMapStackTraces).toBe(true);
    expect(contextOf({ sourceMapStackTraces: false }).props.sourceMapStackTraces).toBe(false);
    expect(contextOf({ sourceMapStackTraces: ' TRUE ' }).props.sourceMapStackTraces).toBe(true);
    expect(contextOf({}).props).not.toHaveProperty('sourceMapStackTraces');
  });

  it.each([
    [{ sweepIntervalSeconds: '30' }, /sweepIntervalSeconds/],
    [{ sweepConcurrency: 'many' }, /sweepConcurrency/],
    [{ domainName: 'broker.example.com' }, /domainName and certificateArn/],
    [{ lightspeedScopes: 'products:read' }, /need lightspeedClientId/],
    [{ logLevel: 'verbose' }, /logLevel/],
    [{ logRetentionDays: '2' }, /logRetentionDays/],
    [{ sourceMapStackTraces: 'no' }, /sourceMapStackTraces must be true or false/],
    [{ sourceMapStackTraces: 1 }, /sourceMapStackTraces must be true or false/],
  ])('rejects %o naming the key', (context, message) => {
    expect(() => contextOf(context)).toThrow(message);
  });
});

describe('cdk.json', () => {
  it('runs the app with tsx and keeps the CLI off the network (notices, telemetry, version reporting)', () => {
    const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as Record<
      string,
      unknown
    > & { context: Record<string, unknown> };
    expect(cdkJson.app).toBe('npx tsx infra/app.ts');
    expect(cdkJson.notices).toBe(false);
    expect(cdkJson.versionReporting).toBe(false);
    expect(cdkJson.context['cli-telemetry']).toBe(false);
  });
});

describe('infra/app.ts, the entry of `cdk synth`', () => {
  // Bundling is covered by lambda.test.ts (same construct, real esbuild); skipped here to keep the suite fast.
  it('synthesizes the context it is given and passes cdk-nag', async () => {
    const outdir = mkdtempSync(join(tmpdir(), 'broker-synth-'));
    const messages: string[] = [];
    const write = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      messages.push(String(chunk));
      return true;
    });
    // What the CDK CLI hands the app: the output directory and the context (cdk.json plus -c).
    vi.stubEnv('CDK_OUTDIR', outdir);
    vi.stubEnv(
      'CDK_CONTEXT_JSON',
      JSON.stringify({
        ...cdkJsonContext(),
        lightspeedClientId: 'client-123',
        'aws:cdk:bundling-stacks': [],
      }),
    );
    try {
      await import('../../infra/app');
      const stderr = messages.join('');
      expect(process.exitCode ?? 0).toBe(0);
      expect(stderr).toContain('AwsSolutions: 0 unacknowledged findings');
      expect(stderr).toContain('Serverless: 0 unacknowledged findings');
      const template = JSON.parse(readFileSync(join(outdir, 'TokenBroker.template.json'), 'utf8')) as {
        Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
      };
      const functions = Object.values(template.Resources).filter((r) => r.Type === 'AWS::Lambda::Function');
      expect(functions).toHaveLength(4);
      expect(JSON.stringify(functions[0]?.Properties)).toContain('"LIGHTSPEED_X_CLIENT_ID":"client-123"');
      expect(existsSync(join(outdir, 'manifest.json'))).toBe(true);
    } finally {
      write.mockRestore();
      vi.unstubAllEnvs();
      rmSync(outdir, { recursive: true, force: true });
    }
  });
});

describe('TokenBroker props', () => {
  const build = (props: TokenBrokerStackProps) => () =>
    new TokenBrokerStack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Props', props);

  it.each<[string, TokenBrokerStackProps, RegExp]>([
    [
      'a return_to that is not a bare origin',
      { returnToOrigins: ['https://app.example.com/path'] },
      /BROKER_RETURN_TO_ORIGINS/,
    ],
    [
      'an invalid scope',
      { providers: { 'lightspeed-x': { clientId: 'id', scopes: ['Read All'] } } },
      /LIGHTSPEED_X_SCOPES/,
    ],
    ['a sweep concurrency out of range', { sweepConcurrency: 0 }, /SWEEP_CONCURRENCY/],
    ['a secret prefix without a trailing slash', { secretPrefix: 'broker' }, /secretPrefix/],
    ['a sweep more often than every minute', { sweepInterval: Duration.seconds(30) }, /sweepInterval/],
  ])('rejects %s at synth time', (_, props, message) => {
    expect(build(props)).toThrow(message);
  });

  it('grants a backend role direct invocation of the tokens function only, on its unqualified ARN', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new TokenBrokerStack(app, 'Direct', {
      env: { account: '123456789012', region: 'eu-central-1' },
    });
    const role = new Role(stack, 'Backend', { assumedBy: new AccountRootPrincipal() });
    stack.broker.grantInvokeTokens(role);
    const template = Template.fromStack(stack);
    const policy = Object.values(template.findResources('AWS::IAM::Policy')).find((p) =>
      JSON.stringify(p.Properties.Roles).includes(stack.getLogicalId(role.node.defaultChild as never)),
    );
    const tokens = stack.getLogicalId(stack.broker.functions.tokens.node.defaultChild as never);
    expect(policy?.Properties.PolicyDocument.Statement).toEqual([
      { Action: 'lambda:InvokeFunction', Effect: 'Allow', Resource: { 'Fn::GetAtt': [tokens, 'Arn'] } },
    ]);
    template.hasOutput('TokensFunctionName', { Value: { Ref: tokens } });
  });

  it('records Invoke data events of the tokens function, and only of it, in a given trail', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new TokenBrokerStack(app, 'Audit', {
      env: { account: '123456789012', region: 'eu-central-1' },
    });
    const trail = new Trail(stack, 'Trail');
    stack.broker.recordTokenInvocations(trail);
    const tokens = stack.getLogicalId(stack.broker.functions.tokens.node.defaultChild as never);
    Template.fromStack(stack).hasResourceProperties('AWS::CloudTrail::Trail', {
      EventSelectors: [
        {
          DataResources: [{ Type: 'AWS::Lambda::Function', Values: [{ 'Fn::GetAtt': [tokens, 'Arn'] }] }],
          IncludeManagementEvents: false,
          ReadWriteType: 'All',
        },
      ],
    });
  });

  it('grants a backend role SigV4 access to the backend routes only', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new TokenBrokerStack(app, 'Grant', {
      env: { account: '123456789012', region: 'eu-central-1' },
    });
    const role = new Role(stack, 'Backend', { assumedBy: new AccountRootPrincipal() });
    stack.broker.grantInvokeBackend(role);
    const policy = Object.values(Template.fromStack(stack).findResources('AWS::IAM::Policy')).find((p) =>
      JSON.stringify(p.Properties.Roles).includes(stack.getLogicalId(role.node.defaultChild as never)),
    );
    const resources = JSON.stringify(policy?.Properties.PolicyDocument.Statement[0].Resource);
    for (const route of routes) {
      const arn = `/$default/${route.method}${route.path.replace(/\{[^}]+\}/g, '*')}"`;
      expect(resources.includes(arn), `${route.method} ${route.path}`).toBe(route.access === 'backend');
    }
  });
});
