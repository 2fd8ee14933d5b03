/** The alarm topic and the alarms: application metrics, the sweep's dead letters, function errors. */
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, Metric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { METRICS } from '../../shared/constants';
import { pascal } from './naming';

/** An encrypted SNS topic for the alarms, with an e-mail subscription when `email` is given. */
export function createAlarmTopic(scope: Construct, email: string | undefined): Topic {
  const stack = Stack.of(scope);
  const key = new Key(scope, 'AlarmTopicKey', {
    description: `Token broker ${stack.stackName}: alarm notifications`,
    enableKeyRotation: true,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  // CloudWatch publishes alarms to the encrypted topic (an AWS-managed SNS key would refuse it).
  key.grant(new ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*');
  const topic = new Topic(scope, 'AlarmTopic', {
    displayName: `Token broker ${stack.stackName} alarms`,
    masterKey: key,
    enforceSSL: true,
  });
  if (email) {
    topic.addSubscription(new EmailSubscription(email));
    Validations.of(topic).acknowledge({
      id: 'Serverless-SNSRedrivePolicy',
      reason:
        'The e-mail subscription is the operator notification itself; undeliverable alarm mail is visible ' +
        'as NumberOfNotificationsFailed and the alarm state stays in CloudWatch.',
    });
  }
  return topic;
}

export interface AlarmsOptions {
  readonly topic: Topic;
  readonly deadLetterQueue: Queue;
  readonly functions: Readonly<Record<string, IFunction>>;
}

/** Every alarm notifies the topic when it fires and when it clears. */
export function createAlarms(scope: Construct, options: AlarmsOptions): Alarm[] {
  const action = new SnsAction(options.topic);
  // The application's EMF metrics (functions/aws.ts, awsMetricSink) carry one dimension, `service`;
  // CloudWatch matches exact dimension sets, and a test compares this one with what the code emits.
  const appMetric = (metricName: string): Metric =>
    new Metric({
      namespace: METRICS.namespace,
      metricName,
      dimensionsMap: { service: METRICS.service },
      statistic: 'Sum',
      period: Duration.minutes(5),
    });
  // All but the refresh failures alarm on a single occurrence within five minutes.
  const alarm = (id: string, alarmDescription: string, metric: Metric): Alarm =>
    new Alarm(scope, id, {
      alarmDescription,
      metric,
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
  const alarms: Alarm[] = [
    new Alarm(scope, 'RefreshFailedAlarm', {
      alarmDescription:
        'Token refreshes keep failing (provider errors or timeouts); callers may get stale tokens or 503.',
      metric: appMetric(METRICS.refreshFailed),
      threshold: 3,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    }),
    alarm(
      'ReauthorizationRequiredAlarm',
      'A provider refused a refresh token (invalid_grant): the retailer must connect again (GET /connections?status=reauthorization_required).',
      appMetric(METRICS.reauthorizationRequired),
    ),
    alarm(
      'DeadLetterQueueAlarm',
      'A sweep run failed or could not be invoked: see the dead-letter queue.',
      options.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        statistic: 'Maximum',
        period: Duration.minutes(5),
      }),
    ),
    ...Object.entries(options.functions).map(([name, fn]) =>
      alarm(
        `${pascal(name)}ErrorsAlarm`,
        `The "${name}" function failed (unhandled error or timeout).`,
        fn.metricErrors({ statistic: 'Sum', period: Duration.minutes(5) }),
      ),
    ),
  ];
  for (const each of alarms) {
    each.addAlarmAction(action);
    each.addOkAction(action);
  }
  return alarms;
}
