/** The sweep's schedule and the dead-letter queue of its failed runs. */
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Schedule, ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { nagReference } from './naming';

/** Receives failed sweep invocations, from the scheduler and from the function's async invocation. */
export function createDeadLetterQueue(scope: Construct): Queue {
  const queue = new Queue(scope, 'SweepDeadLetterQueue', {
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  Validations.of(queue).acknowledge(
    {
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is itself the dead-letter queue of the sweep schedule and the sweep function.',
    },
    {
      id: 'Serverless-SQSRedrivePolicy',
      reason: 'This queue is itself the dead-letter queue; its depth is alarmed instead of redriven.',
    },
  );
  return queue;
}

export interface SweepScheduleOptions {
  readonly sweep: IFunction;
  readonly interval: Duration;
  readonly deadLetterQueue: Queue;
}

/** An EventBridge Scheduler schedule that invokes the sweep every `interval`, through a role of its own. */
export function createSweepSchedule(scope: Construct, options: SweepScheduleOptions): Schedule {
  const stack = Stack.of(scope);
  const role = new Role(scope, 'SweepScheduleRole', {
    assumedBy: new ServicePrincipal('scheduler.amazonaws.com', {
      conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
    }),
    description: 'Token broker sweep schedule: invokes the sweep function, writes to its dead-letter queue',
  });
  const schedule = new Schedule(scope, 'SweepSchedule', {
    description: `Token broker ${stack.stackName}: refresh tokens before they expire`,
    schedule: ScheduleExpression.rate(options.interval),
    target: new LambdaInvoke(options.sweep, {
      role,
      deadLetterQueue: options.deadLetterQueue,
      retryAttempts: 2,
      maxEventAge: Duration.seconds(Math.max(60, options.interval.toSeconds())),
    }),
  });
  Validations.of(role).acknowledge({
    id: `AwsSolutions-IAM5[Resource::${nagReference(stack, options.sweep.functionArn)}:*]`,
    reason:
      'The scheduler target grants lambda:InvokeFunction on the sweep function and its qualified ARNs ' +
      '(versions/aliases of that one function); no other function is reachable.',
  });
  return schedule;
}
