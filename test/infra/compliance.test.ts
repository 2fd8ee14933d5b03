import { App, Duration, Stack } from 'aws-cdk-lib';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { beforeAll, describe, expect, it } from 'vitest';
import { acknowledgements, compliancePacks, enableComplianceChecks } from '../../infra/compliance';
import { TokenBrokerStack, type TokenBrokerStackProps } from '../../infra/stack';
import { cdkJsonContext, type Synth, synthBroker, TEST_ENV, TEST_PROPS } from './support';

/** Unacknowledged findings of both packs, as `rule @ construct path`. */
const findings = (app: App): string[] =>
  compliancePacks().flatMap((pack) =>
    pack
      .validateScope(app)
      .violations.flatMap((violation) =>
        violation.violatingResources.map((resource) => `${violation.ruleName} @ ${resource.constructPath}`),
      ),
  );

describe('cdk-nag (AwsSolutions and Serverless packs)', () => {
  let synth: Synth;
  beforeAll(() => {
    synth = synthBroker();
  });

  it('finds nothing unacknowledged in the stack', () => {
    expect(findings(synth.app)).toEqual([]);
  });

  it.each<[string, TokenBrokerStackProps]>([
    ['without any OAuth provider or e-mail', { env: TEST_ENV }],
    [
      'with a custom domain, an imported client secret and a slower sweep',
      {
        ...TEST_PROPS,
        providers: {
          'lightspeed-x': {
            clientId: 'id',
            clientSecretArn: `arn:aws:secretsmanager:${TEST_ENV.region}:${TEST_ENV.account}:secret:ls-AbCdEf`,
          },
        },
        sweepInterval: Duration.minutes(15),
        customDomain: {
          domainName: 'broker.example.com',
          certificateArn: `arn:aws:acm:${TEST_ENV.region}:${TEST_ENV.account}:certificate/abc`,
          hostedZoneId: 'Z123',
          hostedZoneName: 'example.com',
        },
      },
    ],
  ])('finds nothing unacknowledged %s', (_, props) => {
    const variant = synthBroker(props, { stackName: 'Variant' });
    expect(findings(variant.app)).toEqual([]);
  });

  it('gives every acknowledgement a specific reason', () => {
    const all = acknowledgements(synth.app);
    expect(all.length).toBeGreaterThan(0);
    for (const { path, id, reason } of all) {
      expect(id, path).toMatch(/^(Annotation::)?(AwsSolutions|Serverless)-[A-Za-z0-9]+(\[.+\])?$/);
      expect(reason.length, `${id} @ ${path}`).toBeGreaterThanOrEqual(60);
      expect(reason, `${id} @ ${path}`).not.toMatch(/^(n\/a|not needed|false positive|todo|suppress)/i);
    }
  });

  it('never acknowledges a whole rule where it reports per finding (IAM5 needs the resource)', () => {
    for (const { id } of acknowledgements(synth.app)) {
      if (id.includes('IAM5')) expect(id).toMatch(/IAM5\[Resource::.+\]$/);
    }
  });

  it('passes the synth gate of the app and reports that it ran', () => {
    const app = new App({ context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] } });
    new TokenBrokerStack(app, 'Gate', TEST_PROPS);
    const gate = enableComplianceChecks(app);
    expect(() => app.synth()).not.toThrow();
    expect(gate.summary()).toEqual([
      'AwsSolutions: 0 unacknowledged findings',
      'Serverless: 0 unacknowledged findings',
      expect.stringMatching(/^\d+ acknowledged findings, each with a reason$/),
    ]);
  });

  it('fails synthesis on an unacknowledged error', () => {
    const app = new App({ context: cdkJsonContext() });
    const stack = new Stack(app, 'Bad', { env: TEST_ENV });
    new Queue(stack, 'PlainQueue');
    enableComplianceChecks(app);
    expect(() => app.synth()).toThrow(/AwsSolutions-SQS3|AwsSolutions-SQS4|Serverless-SQSRedrivePolicy/);
  });

  it('fails synthesis on an unacknowledged warning too', () => {
    const app = new App({ context: cdkJsonContext() });
    const stack = new Stack(app, 'Warned', { env: TEST_ENV });
    // Only a warning-level finding: Serverless-CloudWatchLogGroupRetentionPeriod.
    new LogGroup(stack, 'Forever', { retention: RetentionDays.INFINITE });
    const gate = enableComplianceChecks(app);
    expect(() => app.synth()).toThrow(/CloudWatchLogGroupRetentionPeriod/);
    expect(gate.summary().join('\n')).toMatch(/Serverless: 1 unacknowledged findings/);
  });
});
