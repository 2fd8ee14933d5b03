/**
 * The Lambda functions: the three route groups of `functions/routes.ts` plus the scheduled sweep, each
 * with its own role and log group. What each may touch is infra/broker/access.ts.
 */
import { fileURLToPath } from 'node:url';
import { Duration, Validations } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import {
  ApplicationLogLevel,
  Architecture,
  LoggingFormat,
  SystemLogLevel,
  Tracing,
} from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { FunctionGroup } from '../../functions/routes';
import { ENV } from '../../shared/config';
import { LAMBDA_BUNDLING, LAMBDA_RUNTIME, lambdaEntry } from '../bundling';
import { pascal } from './naming';

/** The Lambda functions: the three route groups of `functions/routes.ts` plus the scheduled sweep. */
export type BrokerFunctionName = FunctionGroup | 'sweep';

/** The repository root: bundling reads `functions/*.ts` and `package-lock.json` from here. */
const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface FunctionSpec {
  readonly description: string;
  readonly memorySize: number;
  readonly timeout: Duration;
  /** Why the function has no DeadLetterConfig (the acknowledgement of Serverless-LambdaDLQ). */
  readonly withoutDeadLetterConfig: string;
  readonly environment?: Record<string, string>;
  /** Asynchronous invocation settings (the scheduled sweep only). */
  readonly async?: { retryAttempts: number; maxEventAge: Duration; onFailure: SqsDestination };
}

const SYNCHRONOUS =
  'Invoked synchronously by API Gateway: a failure is returned to the caller, there is no event to keep.';

function functionSpecs(
  sweepInterval: Duration,
  deadLetterQueue: Queue,
): Record<BrokerFunctionName, FunctionSpec> {
  return {
    public: {
      description: 'Token broker public routes: health, connect redirect, OAuth callback',
      memorySize: 256,
      // Under API Gateway's 30 s integration limit, above the code exchange's 20 s plus the token write.
      timeout: Duration.seconds(28),
      withoutDeadLetterConfig: SYNCHRONOUS,
    },
    tokens: {
      description: 'Token broker backend route GET /tokens: current access token, single-flight refresh',
      memorySize: 256,
      // Above a refresh's whole grant budget (27 s, GRANT_RETRY_POLICY) plus the token write and its
      // retries: the function that holds the lease must live to store the rotated token even when
      // API Gateway (30 s integration limit) has already answered the caller.
      timeout: Duration.seconds(40),
      withoutDeadLetterConfig: SYNCHRONOUS,
    },
    admin: {
      description: 'Token broker backend routes: connect sessions, connections, personal tokens',
      memorySize: 256,
      timeout: Duration.seconds(10),
      withoutDeadLetterConfig: SYNCHRONOUS,
    },
    sweep: {
      description: 'Token broker scheduled sweep: refreshes tokens that expire within the margin',
      memorySize: 512,
      // Finish before the next run starts; the lease protocol keeps overlapping runs safe anyway.
      timeout: Duration.seconds(Math.min(900, Math.max(60, sweepInterval.toSeconds() - 60))),
      withoutDeadLetterConfig:
        'The sweep uses an on-failure destination (the same SQS queue as the schedule DLQ), which records more context than a DeadLetterConfig.',
      environment: { [ENV.sweepIntervalSeconds]: String(sweepInterval.toSeconds()) },
      async: {
        // A failed sweep is not retried: the next run picks up the same tokens.
        retryAttempts: 0,
        maxEventAge: Duration.seconds(Math.max(60, sweepInterval.toSeconds())),
        onFailure: new SqsDestination(deadLetterQueue),
      },
    },
  };
}

export interface FunctionsOptions {
  readonly sweepInterval: Duration;
  /** Where failed sweep invocations go. */
  readonly deadLetterQueue: Queue;
  readonly logRetention: RetentionDays;
  readonly logLevel: string;
  /** The environment every function shares, given the function's name. */
  readonly environment: (name: BrokerFunctionName) => Record<string, string>;
}

/** Creates the four functions in `scope` (ids `<Name>Function`, `<Name>Role`, `<Name>Logs`). */
export function createFunctions(
  scope: Construct,
  options: FunctionsOptions,
): Record<BrokerFunctionName, NodejsFunction> {
  const specs = functionSpecs(options.sweepInterval, options.deadLetterQueue);
  const functions = {} as Record<BrokerFunctionName, NodejsFunction>;
  for (const name of Object.keys(specs) as BrokerFunctionName[]) {
    functions[name] = createFunction(scope, name, specs[name], options);
  }
  return functions;
}

function createFunction(
  scope: Construct,
  name: BrokerFunctionName,
  spec: FunctionSpec,
  options: FunctionsOptions,
): NodejsFunction {
  const id = pascal(name);
  const logGroup = new LogGroup(scope, `${id}Logs`, { retention: options.logRetention });
  // Own role instead of the AWS-managed basic execution policy: logs go to this log group only.
  const role = new Role(scope, `${id}Role`, {
    assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
    description: `Token broker function "${name}"`,
  });
  logGroup.grantWrite(role);
  const fn = new NodejsFunction(scope, `${id}Function`, {
    entry: `${PROJECT_ROOT}${lambdaEntry(name)}`,
    handler: 'handler',
    projectRoot: PROJECT_ROOT,
    depsLockFilePath: `${PROJECT_ROOT}package-lock.json`,
    description: spec.description,
    runtime: LAMBDA_RUNTIME,
    architecture: Architecture.ARM_64,
    memorySize: spec.memorySize,
    timeout: spec.timeout,
    tracing: Tracing.ACTIVE,
    role,
    logGroup,
    loggingFormat: LoggingFormat.JSON,
    applicationLogLevelV2: ApplicationLogLevel[options.logLevel as keyof typeof ApplicationLogLevel],
    systemLogLevelV2: SystemLogLevel.WARN,
    environment: { ...options.environment(name), ...spec.environment },
    ...spec.async,
    // One definition, shared with the cold-start benchmark (infra/bundling.ts).
    bundling: LAMBDA_BUNDLING,
  });
  Validations.of(role).acknowledge({
    id: 'AwsSolutions-IAM5[Resource::*]',
    reason:
      'X-Ray tracing (xray:PutTraceSegments, xray:PutTelemetryRecords) supports no resource-level ' +
      'permissions; it is the only statement on "*".',
  });
  Validations.of(fn).acknowledge({ id: 'Serverless-LambdaDLQ', reason: spec.withoutDeadLetterConfig });
  return fn;
}
