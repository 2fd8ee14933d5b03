import { Duration } from 'aws-cdk-lib';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { awsMetricSink, metrics } from '../../functions/aws';
import { METRICS } from '../../infra/token-broker';
import type { MetricName } from '../../shared/domain/ports';
import { type Json, type Resource, type Synth, synthBroker, TEST_PROPS } from './support';

let synth: Synth;
let resources: Record<string, Resource>;
let ids: { sweep: string; queue: string; topic: string };

beforeAll(() => {
  synth = synthBroker();
  resources = synth.template.toJSON().Resources as Record<string, Resource>;
  const broker = synth.stack.broker;
  ids = {
    sweep: synth.stack.getLogicalId(broker.functions.sweep.node.defaultChild as never),
    queue: synth.stack.getLogicalId(broker.deadLetterQueue.node.defaultChild as never),
    topic: synth.stack.getLogicalId(broker.alarmTopic.node.defaultChild as never),
  };
});

const ofType = (type: string) => Object.values(resources).filter((resource) => resource.Type === type);
const alarms = () => ofType('AWS::CloudWatch::Alarm').map((alarm) => alarm.Properties ?? {});

describe('sweep schedule', () => {
  it('invokes the sweep function every five minutes through EventBridge Scheduler, with a DLQ and retries', () => {
    const schedules = ofType('AWS::Scheduler::Schedule');
    expect(schedules).toHaveLength(1);
    const props = schedules[0]?.Properties ?? {};
    expect(props.ScheduleExpression).toBe('rate(5 minutes)');
    expect(props.State).toBe('ENABLED');
    const target = props.Target as Record<string, Json>;
    expect(target.Arn).toEqual({ 'Fn::GetAtt': [ids.sweep, 'Arn'] });
    expect(target.DeadLetterConfig).toEqual({ Arn: { 'Fn::GetAtt': [ids.queue, 'Arn'] } });
    expect(target.RetryPolicy).toEqual({ MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 300 });
  });

  it('sends a failed sweep run to the same queue instead of retrying it (the next run retries)', () => {
    const configs = ofType('AWS::Lambda::EventInvokeConfig');
    expect(configs).toHaveLength(1);
    expect(configs[0]?.Properties).toMatchObject({
      FunctionName: { Ref: ids.sweep },
      MaximumRetryAttempts: 0,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [ids.queue, 'Arn'] } } },
    });
  });

  it('keeps dead letters encrypted, for 14 days, reachable over TLS only', () => {
    const queue = resources[ids.queue]?.Properties ?? {};
    expect(queue.SqsManagedSseEnabled).toBe(true);
    expect(queue.MessageRetentionPeriod).toBe(14 * 86_400);
    synth.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: [
          {
            Effect: 'Deny',
            Action: 'sqs:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          },
        ],
      },
    });
  });

  it('follows a custom interval, and the sweep timeout stays below it', () => {
    const custom = synthBroker(
      { ...TEST_PROPS, sweepInterval: Duration.minutes(2) },
      { stackName: 'Custom' },
    );
    custom.template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(2 minutes)',
    });
    custom.template.hasResourceProperties('AWS::Lambda::Function', {
      Timeout: 60,
      Environment: { Variables: { SWEEP_INTERVAL_SECONDS: '120' } },
    });
  });
});

describe('alarms', () => {
  const appAlarm = (metricName: string) =>
    alarms().find((alarm) => alarm.MetricName === metricName && alarm.Namespace === METRICS.namespace);

  /** What the Lambda code really emits for a counter: the EMF document Powertools prints. */
  const emitted = (metricName: MetricName) => {
    const printed: string[] = [];
    // Powertools writes EMF to process.stdout through a Console of its own.
    const log = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      printed.push(
        ...String(chunk)
          .split('\n')
          .filter((line) => line.startsWith('{')),
      );
      return true;
    });
    try {
      awsMetricSink.count(metricName);
      metrics.publishStoredMetrics();
    } finally {
      log.mockRestore();
    }
    const emf = printed
      .map(
        (line) =>
          JSON.parse(line) as {
            _aws?: {
              CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[];
            };
          } & Record<string, unknown>,
      )
      .find((document) => document._aws?.CloudWatchMetrics[0]?.Metrics.some((m) => m.Name === metricName));
    const directive = emf?._aws?.CloudWatchMetrics[0];
    return {
      namespace: directive?.Namespace,
      dimensionSets: (directive?.Dimensions ?? []).map((names) =>
        Object.fromEntries(names.map((name) => [name, emf?.[name]])),
      ),
    };
  };

  it.each([METRICS.refreshFailed, METRICS.reauthorizationRequired])(
    'alarms on %s with the namespace and dimensions the functions emit it with',
    (name) => {
      const alarm = appAlarm(name);
      expect(alarm, name).toBeDefined();
      expect(alarm?.Statistic).toBe('Sum');
      expect(alarm?.TreatMissingData).toBe('notBreaching');
      const dimensions = Object.fromEntries(
        ((alarm?.Dimensions ?? []) as { Name: string; Value: string }[]).map((d) => [d.Name, d.Value]),
      );
      const { namespace, dimensionSets } = emitted(name);
      expect(namespace).toBe(alarm?.Namespace);
      expect(dimensionSets).toEqual([dimensions]);
    },
  );

  it('alarms on errors of every function', () => {
    const functionIds = Object.values(synth.stack.broker.functions).map((fn) =>
      synth.stack.getLogicalId(fn.node.defaultChild as never),
    );
    for (const id of functionIds) {
      const alarm = alarms().find(
        (a) =>
          a.MetricName === 'Errors' &&
          JSON.stringify(a.Dimensions) === JSON.stringify([{ Name: 'FunctionName', Value: { Ref: id } }]),
      );
      expect(alarm, id).toMatchObject({ Namespace: 'AWS/Lambda', Statistic: 'Sum', Threshold: 1 });
    }
  });

  it('alarms when the dead-letter queue holds a message', () => {
    const alarm = alarms().find((a) => a.MetricName === 'ApproximateNumberOfMessagesVisible');
    expect(alarm).toMatchObject({
      Namespace: 'AWS/SQS',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [ids.queue, 'QueueName'] } }],
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });

  it('notifies the SNS topic on alarm and on recovery', () => {
    const all = alarms();
    expect(all).toHaveLength(3 + Object.keys(synth.stack.broker.functions).length);
    for (const alarm of all) {
      expect(alarm.AlarmActions).toEqual([{ Ref: ids.topic }]);
      expect(alarm.OKActions).toEqual([{ Ref: ids.topic }]);
      expect(typeof alarm.AlarmDescription).toBe('string');
    }
  });

  it('encrypts the topic with a key CloudWatch may use, requires TLS, and subscribes the alarm e-mail', () => {
    const topic = resources[ids.topic]?.Properties ?? {};
    const keyId = (topic.KmsMasterKeyId as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    const key = resources[keyId]?.Properties ?? {};
    expect(key.EnableKeyRotation).toBe(true);
    const keyStatements = (key.KeyPolicy as { Statement: Record<string, Json>[] }).Statement;
    expect(keyStatements).toContainEqual(
      expect.objectContaining({ Principal: { Service: 'cloudwatch.amazonaws.com' }, Effect: 'Allow' }),
    );
    synth.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: [{ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }],
      },
    });
    synth.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
      TopicArn: { Ref: ids.topic },
    });
  });

  it('subscribes nobody when no alarm e-mail is given', () => {
    const { alarmEmail: _, ...withoutEmail } = TEST_PROPS;
    const quiet = synthBroker(withoutEmail, { stackName: 'Quiet' });
    quiet.template.resourceCountIs('AWS::SNS::Subscription', 0);
    quiet.template.resourceCountIs('AWS::SNS::Topic', 1);
  });
});
