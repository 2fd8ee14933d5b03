import { Duration } from 'aws-cdk-lib';
import { beforeAll, describe, expect, it } from 'vitest';
import { METRICS, OAUTH_PROVIDERS } from '../../infra/token-broker';
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
  /** Alarms on an application metric: a math expression over the metric's dimension sets. */
  const appAlarm = (metricName: string) =>
    alarms().find((alarm) =>
      (alarm.Metrics as Record<string, Json>[] | undefined)?.some(
        (query) =>
          (query.MetricStat as { Metric: { MetricName: string } } | undefined)?.Metric.MetricName ===
          metricName,
      ),
    );

  it.each([METRICS.refreshFailed, METRICS.reauthorizationRequired])(
    'alarms on %s, as the application emits it',
    (name) => {
      const alarm = appAlarm(name);
      expect(alarm, name).toBeDefined();
      const queries = alarm?.Metrics as Record<string, Json>[];
      const stats = queries.filter((query) => query.MetricStat !== undefined);
      const dimensionSets = stats.map((query) => {
        const metric = (
          query.MetricStat as { Metric: { Namespace: string; Dimensions: { Name: string; Value: string }[] } }
        ).Metric;
        expect(metric.Namespace).toBe(METRICS.namespace);
        expect((query.MetricStat as { Stat: string }).Stat).toBe('Sum');
        return Object.fromEntries(metric.Dimensions.map((dimension) => [dimension.Name, dimension.Value]));
      });
      // Powertools adds `service` to every metric; the broker adds `provider` per refresh.
      expect(dimensionSets).toContainEqual({ service: METRICS.service });
      for (const provider of Object.keys(OAUTH_PROVIDERS)) {
        expect(dimensionSets).toContainEqual({ service: METRICS.service, provider });
      }
      const expression = queries.find((query) => query.Expression !== undefined);
      expect(expression?.Expression).toMatch(/^SUM\(\[/);
      expect(expression?.ReturnData).not.toBe(false);
      expect(alarm?.TreatMissingData).toBe('notBreaching');
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
