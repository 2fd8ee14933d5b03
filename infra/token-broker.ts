/**
 * The token broker on AWS as one reusable construct: table, secrets, one Lambda function per handler
 * group, the HTTP API built from the route table, the sweep schedule and the alarms.
 *
 * Operators deploy it through `infra/app.ts`; CDK users can embed `TokenBroker` in their own stack.
 * Everything the functions read comes through the environment names in `shared/config.ts`, so the
 * Lambda functions are configured exactly like the local runtime.
 */
import { fileURLToPath } from 'node:url';
import { ArnFormat, Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import {
  DomainName,
  HttpApi,
  HttpMethod,
  HttpNoneAuthorizer,
  HttpStage,
  LogGroupLogDestination,
  type ThrottleSettings,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { ICertificate } from 'aws-cdk-lib/aws-certificatemanager';
import { ReadWriteType, type Trail } from 'aws-cdk-lib/aws-cloudtrail';
import { Alarm, ComparisonOperator, Metric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { AttributeType, BillingMode, ProjectionType, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { EventBus } from 'aws-cdk-lib/aws-events';
import { type IGrantable, ManagedPolicy, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import {
  ApplicationLogLevel,
  Architecture,
  type IFunction,
  LoggingFormat,
  SystemLogLevel,
  Tracing,
} from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { ARecord, type IHostedZone, RecordTarget } from 'aws-cdk-lib/aws-route53';
import { ApiGatewayv2DomainProperties } from 'aws-cdk-lib/aws-route53-targets';
import { Schedule, ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { type FunctionGroup, methodsOf, routes } from '../functions/routes';
import { TABLE } from '../shared/adapters/dynamodb/schema';
import { ENV, loadConfig } from '../shared/config';
import { type OAuthProviderId, PROVIDER_DEFINITIONS } from '../shared/providers';
import { LAMBDA_BUNDLING, LAMBDA_RUNTIME, lambdaEntry } from './bundling';

export { LAMBDA_RUNTIME } from './bundling';

/** Environment names that are not part of the broker's own configuration (`ENV`): Powertools' own. */
export const EXTRA_ENV = {
  powertoolsServiceName: 'POWERTOOLS_SERVICE_NAME',
  powertoolsLogLevel: 'POWERTOOLS_LOG_LEVEL',
  powertoolsMetricsNamespace: 'POWERTOOLS_METRICS_NAMESPACE',
  powertoolsTracerCaptureResponse: 'POWERTOOLS_TRACER_CAPTURE_RESPONSE',
} as const;

/**
 * The encryption context the functions send with their own KMS calls (data keys sealing stored tokens,
 * shared/adapters/crypto/kms-keys.ts). IAM allows direct use of the key only with this context; a test
 * runs the adapter against a mocked KMS to keep the two in step.
 */
export const TOKEN_DATA_KEY_CONTEXT = { service: 'token-broker', purpose: 'token-data-key' } as const;

/** The metrics the application emits (CloudWatch EMF through Powertools) and the alarms watch. */
export const METRICS = {
  namespace: 'TokenBroker',
  service: 'token-broker',
  refreshFailed: 'RefreshFailed',
  reauthorizationRequired: 'ReauthorizationRequired',
  refreshSucceeded: 'RefreshSucceeded',
  tokenFetched: 'TokenFetched',
} as const;

interface OAuthProviderNames {
  readonly label: string;
  readonly clientIdEnv: string;
  readonly clientSecretArnEnv: string;
  readonly scopesEnv: string;
}

/**
 * OAuth providers that need an app registration (client id and secret), from the provider registry;
 * the others use personal tokens only.
 */
export const OAUTH_PROVIDERS: Readonly<Record<OAuthProviderId, OAuthProviderNames>> = Object.freeze(
  Object.fromEntries(
    PROVIDER_DEFINITIONS.flatMap(({ id, oauth }) =>
      oauth === undefined
        ? []
        : [
            [
              id,
              {
                label: oauth.portalName,
                clientIdEnv: oauth.env.clientId,
                clientSecretArnEnv: oauth.env.clientSecretArn,
                scopesEnv: oauth.env.scopes,
              },
            ],
          ],
    ),
  ) as Record<OAuthProviderId, OAuthProviderNames>,
);
export type { OAuthProviderId };

/** The Lambda functions: the three route groups of `functions/routes.ts` plus the scheduled sweep. */
export type BrokerFunctionName = FunctionGroup | 'sweep';

export interface OAuthClientOptions {
  /** The app's client id from the provider's developer portal (not secret: it travels in the browser). */
  readonly clientId: string;
  /**
   * Complete ARN of an existing Secrets Manager secret whose value is the client secret.
   * @default - the construct creates a secret with a random placeholder; put the real value after the first deploy (README, "Deploy to AWS", step 4)
   */
  readonly clientSecretArn?: string;
  /** @default - the provider definition's default set (Lightspeed: the broker's read-only `DEFAULT_LIGHTSPEED_SCOPES`) */
  readonly scopes?: readonly string[];
}

export interface CustomDomainOptions {
  /** e.g. `broker.example.com`; becomes the public URL and therefore the OAuth redirect URI's host. */
  readonly domainName: string;
  /** A certificate for `domainName` in the stack's region (API Gateway regional endpoint). */
  readonly certificate: ICertificate;
  /** @default - no DNS record is created: point `domainName` at the API's regional domain yourself */
  readonly hostedZone?: IHostedZone;
}

export interface TokenBrokerProps {
  /** OAuth apps per provider. A provider left out cannot be connected through OAuth (personal tokens still work). */
  readonly providers?: { readonly [P in OAuthProviderId]?: OAuthClientOptions };
  /** Origins allowed as `return_to` of a connect session, e.g. `https://app.example.com`. @default - none */
  readonly returnToOrigins?: readonly string[];
  /** The sweep refreshes every token expiring within this margin. @default Duration.minutes(15) */
  readonly refreshMargin?: Duration;
  /** How often the sweep runs. @default Duration.minutes(5) */
  readonly sweepInterval?: Duration;
  /** Refreshes the sweep runs in parallel. @default 8 */
  readonly sweepConcurrency?: number;
  /** E-mail address subscribed to the alarm topic (the recipient must confirm). @default - no subscription */
  readonly alarmEmail?: string;
  /** Serve the API on a custom domain. @default - the execute-api URL */
  readonly customDomain?: CustomDomainOptions;
  /**
   * Prefix of the Secrets Manager names the broker uses; personal tokens live under `${prefix}personal/`.
   * @default `${stackName.toLowerCase()}/`
   */
  readonly secretPrefix?: string;
  /** Default route throttling of the API stage. @default { rateLimit: 100, burstLimit: 200 } */
  readonly throttle?: ThrottleSettings;
  /** Retention of the function and access logs. @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
  /** Application log level. @default 'INFO' */
  readonly logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
}

const DEFAULTS = {
  refreshMargin: Duration.minutes(15),
  sweepInterval: Duration.minutes(5),
  sweepConcurrency: 8,
  throttle: { rateLimit: 100, burstLimit: 200 },
  logRetention: RetentionDays.ONE_MONTH,
  logLevel: 'INFO',
} as const;

/** The repository root: bundling reads `functions/*.ts` and `package-lock.json` from here. */
const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

interface FunctionSpec {
  readonly description: string;
  readonly memorySize: number;
  readonly timeout: Duration;
}

/**
 * Table actions the functions may use. No `Scan` (never on a request path nor in the sweep) and no
 * table management: a function that needs another action gets it here, in one reviewed place.
 */
const TABLE_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:Query',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:ConditionCheckItem',
];
/** What DynamoDB (table items) and Secrets Manager (personal-token secrets) need to use the key for a caller. */
const KEY_VIA_SERVICE_ACTIONS = ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'];

/**
 * Direct KMS use of each function on the token data keys: public only seals the tokens of a new
 * connection; tokens and sweep open refresh tokens and seal refreshed ones; admin never touches a
 * token (metadata reads open nothing).
 */
export const TOKEN_DATA_KEY_ACTIONS: Readonly<Record<BrokerFunctionName, readonly string[]>> = {
  public: ['kms:GenerateDataKey'],
  tokens: ['kms:Decrypt', 'kms:GenerateDataKey'],
  sweep: ['kms:Decrypt', 'kms:GenerateDataKey'],
  admin: [],
};
const PERSONAL_TOKEN_READ_ACTIONS = ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'];
const PERSONAL_TOKEN_WRITE_ACTIONS = [
  'secretsmanager:CreateSecret',
  'secretsmanager:PutSecretValue',
  'secretsmanager:DeleteSecret',
  'secretsmanager:DescribeSecret',
  'secretsmanager:TagResource',
];

const SECRET_PREFIX_PATTERN = /^[A-Za-z0-9/_+=.@-]+\/$/;

export class TokenBroker extends Construct {
  readonly table: Table;
  /** The table's customer-managed key; it also encrypts the personal-token secrets (`BROKER_KMS_KEY_ARN`). */
  readonly tableKey: Key;
  readonly functions: Readonly<Record<BrokerFunctionName, NodejsFunction>>;
  readonly api: HttpApi;
  readonly stage: HttpStage;
  /** The broker's external base URL without a trailing slash (custom domain or execute-api). */
  readonly publicUrl: string;
  readonly secretPrefix: string;
  /** The client secret of every configured OAuth provider. */
  readonly clientSecrets: Readonly<Partial<Record<OAuthProviderId, ISecret>>>;
  /** `${publicUrl}/oauth/{provider}/callback` of every configured OAuth provider. */
  readonly redirectUris: Readonly<Partial<Record<OAuthProviderId, string>>>;
  readonly alarmTopic: Topic;
  /** Receives failed sweep invocations, from the scheduler and from the function's async invocation. */
  readonly deadLetterQueue: Queue;
  /**
   * The broker's events (source `token-broker`; detail-type `connection.connected`,
   * `connection.refreshed`, `connection.reauthorization_required`, `connection.deleted`,
   * `connection.reference_changed`, `personal_token.expiring`): add rules on it to react, e.g.
   * e-mail a retailer to reconnect, or alert a tenant whose store moved to another reference.
   */
  readonly eventBus: EventBus;
  /** Allows `execute-api:Invoke` on the backend routes only: attach it to the roles of calling backends. */
  readonly backendInvokePolicy: ManagedPolicy;
  readonly alarms: readonly Alarm[];
  private readonly backendRouteArns: string[] = [];

  constructor(scope: Construct, id: string, props: TokenBrokerProps = {}) {
    super(scope, id);
    const stack = Stack.of(this);

    const refreshMargin = props.refreshMargin ?? DEFAULTS.refreshMargin;
    const sweepInterval = props.sweepInterval ?? DEFAULTS.sweepInterval;
    const sweepConcurrency = props.sweepConcurrency ?? DEFAULTS.sweepConcurrency;
    const logRetention = props.logRetention ?? DEFAULTS.logRetention;
    const logLevel = props.logLevel ?? DEFAULTS.logLevel;
    const throttle = props.throttle ?? DEFAULTS.throttle;
    this.secretPrefix = props.secretPrefix ?? `${stack.stackName.toLowerCase()}/`;
    if (!Token.isUnresolved(this.secretPrefix) && !SECRET_PREFIX_PATTERN.test(this.secretPrefix)) {
      throw new Error(
        `secretPrefix must use Secrets Manager name characters and end with "/", got "${this.secretPrefix}"`,
      );
    }
    if (sweepInterval.toSeconds() < 60) throw new Error('sweepInterval must be at least one minute');

    // Fail at synth, not at the first request: the same validation the functions run at cold start.
    const staticEnv = this.validatedConfiguration(props, refreshMargin, sweepConcurrency);

    // --- Data -----------------------------------------------------------------------------------
    this.tableKey = new Key(this, 'TableKey', {
      description: `Token broker ${stack.stackName}: DynamoDB table and token envelope encryption`,
      enableKeyRotation: true,
      // The retained table stays readable only as long as its key exists.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.table = new Table(this, 'Table', {
      partitionKey: { name: TABLE.partitionKey, type: AttributeType.STRING },
      sortKey: { name: TABLE.sortKey, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
      encryption: TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.tableKey,
      timeToLiveAttribute: TABLE.ttlAttribute,
    });
    // Sparse: only active OAuth connections carry the sweep attributes (shard number, expiry in epoch ms).
    this.table.addGlobalSecondaryIndex({
      indexName: TABLE.sweepIndex.name,
      partitionKey: { name: TABLE.sweepIndex.partitionKey, type: AttributeType.NUMBER },
      sortKey: { name: TABLE.sweepIndex.sortKey, type: AttributeType.NUMBER },
      // Keys only: the sweep re-reads each due connection consistently, and no token is copied.
      projectionType: ProjectionType[TABLE.sweepIndex.projection],
    });
    this.table.addGlobalSecondaryIndex({
      indexName: TABLE.providerIndex.name,
      partitionKey: { name: TABLE.providerIndex.partitionKey, type: AttributeType.STRING },
      sortKey: { name: TABLE.providerIndex.sortKey, type: AttributeType.STRING },
      projectionType: ProjectionType[TABLE.providerIndex.projection],
    });

    // --- Secrets --------------------------------------------------------------------------------
    const clientSecrets: Partial<Record<OAuthProviderId, ISecret>> = {};
    for (const [provider, options] of this.configuredProviders(props)) {
      const meta = OAUTH_PROVIDERS[provider];
      if (options.clientSecretArn !== undefined) {
        clientSecrets[provider] = Secret.fromSecretCompleteArn(
          this,
          `${pascal(provider)}ClientSecret`,
          options.clientSecretArn,
        );
        continue;
      }
      const secret = new Secret(this, `${pascal(provider)}ClientSecret`, {
        description:
          `${meta.label} OAuth client secret of token broker ${stack.stackName}. Created with a random ` +
          'placeholder: set the real value with `aws secretsmanager put-secret-value --secret-id <this ARN> ' +
          '--secret-string <client secret>` (README, "Deploy to AWS", step 4).',
      });
      Validations.of(secret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason:
          'The OAuth client secret is issued by the provider developer portal and cannot be rotated by a ' +
          'Lambda; operators rotate it there and put the new value (README, "Deploy to AWS", step 5).',
      });
      clientSecrets[provider] = secret;
    }
    this.clientSecrets = Object.freeze(clientSecrets);
    const personalTokenArn = stack.formatArn({
      service: 'secretsmanager',
      resource: 'secret',
      resourceName: `${this.secretPrefix}personal/*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });

    // --- HTTP API first: its URL is the functions' BROKER_PUBLIC_URL --------------------------------
    const accessLogs = new LogGroup(this, 'ApiAccessLogs', { retention: logRetention });
    this.api = new HttpApi(this, 'Api', {
      description: `Token broker ${stack.stackName}`,
      createDefaultStage: false,
      // Secure by default: a route that is not explicitly public requires SigV4.
      defaultAuthorizer: new HttpIamAuthorizer(),
    });
    let domain: DomainName | undefined;
    if (props.customDomain) {
      domain = new DomainName(this, 'Domain', {
        domainName: props.customDomain.domainName,
        certificate: props.customDomain.certificate,
      });
      if (props.customDomain.hostedZone) {
        new ARecord(this, 'DomainRecord', {
          zone: props.customDomain.hostedZone,
          recordName: props.customDomain.domainName,
          target: RecordTarget.fromAlias(
            new ApiGatewayv2DomainProperties(domain.regionalDomainName, domain.regionalHostedZoneId),
          ),
        });
      }
    }
    this.publicUrl = props.customDomain ? `https://${props.customDomain.domainName}` : this.api.apiEndpoint;
    this.redirectUris = Object.freeze(
      Object.fromEntries(
        Object.keys(clientSecrets).map((provider) => [
          provider,
          `${this.publicUrl}/oauth/${provider}/callback`,
        ]),
      ),
    );

    // --- Functions ------------------------------------------------------------------------------
    const specs: Record<BrokerFunctionName, FunctionSpec> = {
      public: {
        description: 'Token broker public routes: health, connect redirect, OAuth callback',
        memorySize: 256,
        // Under API Gateway's 30 s integration limit, above the code exchange's 20 s plus the token write.
        timeout: Duration.seconds(28),
      },
      tokens: {
        description: 'Token broker backend route GET /tokens: current access token, single-flight refresh',
        memorySize: 256,
        // Above a refresh's whole grant budget (27 s, GRANT_RETRY_POLICY) plus the token write and its
        // retries: the function that holds the lease must live to store the rotated token even when
        // API Gateway (30 s integration limit) has already answered the caller.
        timeout: Duration.seconds(40),
      },
      admin: {
        description: 'Token broker backend routes: connect sessions, connections, personal tokens',
        memorySize: 256,
        timeout: Duration.seconds(10),
      },
      sweep: {
        description: 'Token broker scheduled sweep: refreshes tokens that expire within the margin',
        memorySize: 512,
        // Finish before the next run starts; the lease protocol keeps overlapping runs safe anyway.
        timeout: Duration.seconds(Math.min(900, Math.max(60, sweepInterval.toSeconds() - 60))),
      },
    };

    this.deadLetterQueue = new Queue(this, 'SweepDeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.deadLetterQueue).acknowledge(
      {
        id: 'AwsSolutions-SQS3',
        reason: 'This queue is itself the dead-letter queue of the sweep schedule and the sweep function.',
      },
      {
        id: 'Serverless-SQSRedrivePolicy',
        reason: 'This queue is itself the dead-letter queue; its depth is alarmed instead of redriven.',
      },
    );

    this.eventBus = new EventBus(this, 'EventBus', {
      description: `Token broker ${stack.stackName}: connection and personal-token events`,
    });

    const functions = {} as Record<BrokerFunctionName, NodejsFunction>;
    for (const name of Object.keys(specs) as BrokerFunctionName[]) {
      functions[name] = this.createFunction(name, specs[name], {
        logRetention,
        logLevel,
        environment: {
          ...staticEnv,
          [ENV.publicUrl]: this.publicUrl,
          [ENV.tableName]: this.table.tableName,
          [ENV.secretPrefix]: this.secretPrefix,
          // Required on AWS: wraps the data keys that seal stored tokens, and encrypts personal-token secrets.
          [ENV.kmsKeyArn]: this.tableKey.keyArn,
          [ENV.eventBusName]: this.eventBus.eventBusName,
          // The client secrets: only for the functions that talk to a provider's token endpoint.
          ...(name === 'admin'
            ? {}
            : Object.fromEntries(
                Object.entries(clientSecrets).map(([provider, secret]) => [
                  OAUTH_PROVIDERS[provider as OAuthProviderId].clientSecretArnEnv,
                  secret.secretArn,
                ]),
              )),
          ...(name === 'sweep' ? { [ENV.sweepIntervalSeconds]: String(sweepInterval.toSeconds()) } : {}),
        },
        ...(name === 'sweep'
          ? {
              // A failed sweep is not retried: the next run picks up the same tokens.
              retryAttempts: 0,
              maxEventAge: Duration.seconds(Math.max(60, sweepInterval.toSeconds())),
              onFailure: new SqsDestination(this.deadLetterQueue),
            }
          : {}),
      });
    }
    this.functions = Object.freeze(functions);

    // Least privilege, function by function.
    for (const name of Object.keys(functions) as BrokerFunctionName[]) {
      const role = functions[name].role!;
      // The provider index: admin lists. The sweep index: the sweep finds what is due; admin and
      // public count the stores connected per app on it (the unapproved-app limit).
      const indexes =
        name === 'admin'
          ? [TABLE.providerIndex.name, TABLE.sweepIndex.name]
          : name === 'sweep' || name === 'public'
            ? [TABLE.sweepIndex.name]
            : [];
      role.addToPrincipalPolicy(
        new PolicyStatement({
          sid: 'BrokerTable',
          actions: TABLE_ACTIONS,
          resources: [
            this.table.tableArn,
            ...indexes.map((index) => `${this.table.tableArn}/index/${index}`),
          ],
        }),
      );
      // The table key through the services: every function reads the table; only the functions that
      // read (tokens) or write (admin) personal-token secrets use it through Secrets Manager (the client
      // secrets are under the aws/secretsmanager key).
      const services = name === 'tokens' || name === 'admin' ? ['dynamodb', 'secretsmanager'] : ['dynamodb'];
      role.addToPrincipalPolicy(
        new PolicyStatement({
          sid: 'TableKeyThroughServices',
          actions: KEY_VIA_SERVICE_ACTIONS,
          resources: [this.tableKey.keyArn],
          conditions: {
            StringEquals: {
              'kms:ViaService': services.map((service) => `${service}.${stack.region}.${stack.urlSuffix}`),
            },
          },
        }),
      );
      // Direct use, only with the broker's encryption context (TOKEN_DATA_KEY_ACTIONS says who does what).
      const dataKeyActions = TOKEN_DATA_KEY_ACTIONS[name];
      if (dataKeyActions.length > 0) {
        role.addToPrincipalPolicy(
          new PolicyStatement({
            sid: 'TokenDataKeys',
            actions: [...dataKeyActions],
            resources: [this.tableKey.keyArn],
            conditions: {
              StringEquals: Object.fromEntries(
                Object.entries(TOKEN_DATA_KEY_CONTEXT).map(([key, value]) => [
                  `kms:EncryptionContext:${key}`,
                  value,
                ]),
              ),
            },
          }),
        );
      }
      if (name !== 'admin') {
        for (const secret of Object.values(clientSecrets)) secret.grantRead(role);
      }
      // Every function emits some event (connected, refreshed, reauthorization_required, deleted, expiring).
      this.eventBus.grantPutEventsTo(functions[name]);
    }
    functions.tokens.role!.addToPrincipalPolicy(
      new PolicyStatement({
        sid: 'ReadPersonalTokens',
        actions: PERSONAL_TOKEN_READ_ACTIONS,
        resources: [personalTokenArn],
      }),
    );
    functions.admin.role!.addToPrincipalPolicy(
      new PolicyStatement({
        sid: 'ManagePersonalTokens',
        actions: PERSONAL_TOKEN_WRITE_ACTIONS,
        resources: [personalTokenArn],
      }),
    );
    for (const name of ['tokens', 'admin'] as const) {
      Validations.of(functions[name].role!).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${nagReference(stack, personalTokenArn)}]`,
        reason:
          'Personal tokens are one secret per (provider, account), created at runtime; access is limited to ' +
          'the broker prefix `personal/` (Secrets Manager appends a random suffix, so no exact ARN exists).',
      });
    }

    // --- HTTP API: routes and stage -------------------------------------------------------------
    this.stage = new HttpStage(this, 'Stage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle,
      accessLogSettings: {
        destination: new LogGroupLogDestination(accessLogs),
        format: accessLogFormat(),
      },
      ...(domain ? { domainMapping: { domainName: domain } } : {}),
    });

    const integrations: Record<FunctionGroup, HttpLambdaIntegration> = {
      public: new HttpLambdaIntegration('PublicIntegration', functions.public),
      tokens: new HttpLambdaIntegration('TokensIntegration', functions.tokens),
      admin: new HttpLambdaIntegration('AdminIntegration', functions.admin),
    };
    const publicAuthorizer = new HttpNoneAuthorizer();
    const backendArns = this.backendRouteArns;
    for (const route of routes) {
      // Every GET route also answers HEAD (the handlers serve it like GET without a body).
      for (const method of methodsOf(route)) {
        const [created] = this.api.addRoutes({
          path: route.path,
          methods: [HttpMethod[method]],
          integration: integrations[route.group],
          ...(route.access === 'public' ? { authorizer: publicAuthorizer } : {}),
        });
        if (route.access === 'public') {
          Validations.of(created!).acknowledge({
            id: 'AwsSolutions-APIG4',
            reason: `${method} ${route.path} is a public route of the contract, opened by retailers' browsers (OAuth connect flow or health check); it returns no token.`,
          });
        } else {
          backendArns.push(
            this.api.arnForExecuteApi(method, route.path.replace(/\{[^}]+\}/g, '*'), this.stage.stageName),
          );
        }
      }
    }
    this.backendInvokePolicy = new ManagedPolicy(this, 'BackendInvokePolicy', {
      description: `Lets a SaaS backend call the backend routes of token broker ${stack.stackName} (SigV4)`,
      statements: [new PolicyStatement({ actions: ['execute-api:Invoke'], resources: backendArns })],
    });
    for (const arn of backendArns) {
      const resource = nagReference(stack, arn);
      if (!resource.includes('*')) continue;
      Validations.of(this.backendInvokePolicy).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${resource}]`,
        reason:
          'In execute-api ARNs each path parameter ({provider}, {account}) is written as *: this statement ' +
          'allows exactly one backend route of the contract, and the policy names no public route.',
      });
    }

    // --- Sweep schedule -------------------------------------------------------------------------
    const scheduleRole = new Role(this, 'SweepScheduleRole', {
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
      description: 'Token broker sweep schedule: invokes the sweep function, writes to its dead-letter queue',
    });
    new Schedule(this, 'SweepSchedule', {
      description: `Token broker ${stack.stackName}: refresh tokens before they expire`,
      schedule: ScheduleExpression.rate(sweepInterval),
      target: new LambdaInvoke(functions.sweep, {
        role: scheduleRole,
        deadLetterQueue: this.deadLetterQueue,
        retryAttempts: 2,
        maxEventAge: Duration.seconds(Math.max(60, sweepInterval.toSeconds())),
      }),
    });

    Validations.of(scheduleRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${nagReference(stack, functions.sweep.functionArn)}:*]`,
      reason:
        'The scheduler target grants lambda:InvokeFunction on the sweep function and its qualified ARNs ' +
        '(versions/aliases of that one function); no other function is reachable.',
    });

    // --- Alarms ---------------------------------------------------------------------------------
    const alarmKey = new Key(this, 'AlarmTopicKey', {
      description: `Token broker ${stack.stackName}: alarm notifications`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // CloudWatch publishes alarms to the encrypted topic (an AWS-managed SNS key would refuse it).
    alarmKey.grant(new ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*');
    this.alarmTopic = new Topic(this, 'AlarmTopic', {
      displayName: `Token broker ${stack.stackName} alarms`,
      masterKey: alarmKey,
      enforceSSL: true,
    });
    if (props.alarmEmail) {
      this.alarmTopic.addSubscription(new EmailSubscription(props.alarmEmail));
      Validations.of(this.alarmTopic).acknowledge({
        id: 'Serverless-SNSRedrivePolicy',
        reason:
          'The e-mail subscription is the operator notification itself; undeliverable alarm mail is visible ' +
          'as NumberOfNotificationsFailed and the alarm state stays in CloudWatch.',
      });
    }
    this.alarms = this.createAlarms(functions);

    for (const [name, fn] of Object.entries(functions)) {
      Validations.of(fn).acknowledge({
        id: 'Serverless-LambdaDLQ',
        reason:
          name === 'sweep'
            ? 'The sweep uses an on-failure destination (the same SQS queue as the schedule DLQ), which records more context than a DeadLetterConfig.'
            : 'Invoked synchronously by API Gateway: a failure is returned to the caller, there is no event to keep.',
      });
    }
  }

  /** Lets `grantee` call the backend routes with SigV4 (not the public ones). */
  grantInvokeBackend(grantee: IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['execute-api:Invoke'],
        resources: this.backendRouteArns,
      }),
    );
  }

  /**
   * Lets `grantee` invoke the tokens function directly (`lambda:InvokeFunction` on its unqualified
   * ARN only): the request and answer of `GET /tokens/{provider}/{account}` without API Gateway, for
   * backends inside AWS. The function cannot tell who invoked it; its audit line says `lambda:invoke`
   * and the principal is in CloudTrail (`recordTokenInvocations`).
   */
  grantInvokeTokens(grantee: IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['lambda:InvokeFunction'],
        resources: [this.functions.tokens.functionArn],
      }),
    );
  }

  /**
   * Records every `Invoke` of the tokens function as a CloudTrail data event in `trail` (who
   * invoked it, when, from where, with the request id the broker's audit line carries). Data events
   * cost $0.10 per 100,000, i.e. $1.00 per million token fetches (docs/capacity.md).
   */
  recordTokenInvocations(trail: Trail): void {
    trail.addLambdaEventSelector([this.functions.tokens], {
      includeManagementEvents: false,
      readWriteType: ReadWriteType.ALL,
    });
  }

  private configuredProviders(props: TokenBrokerProps): [OAuthProviderId, OAuthClientOptions][] {
    return Object.entries(props.providers ?? {}).filter(
      (entry): entry is [OAuthProviderId, OAuthClientOptions] => entry[1] !== undefined,
    );
  }

  /** The static part of the functions' environment, checked with the broker's own config loader. */
  private validatedConfiguration(
    props: TokenBrokerProps,
    refreshMargin: Duration,
    sweepConcurrency: number,
  ): Record<string, string> {
    const env: Record<string, string> = {
      [ENV.returnToOrigins]: (props.returnToOrigins ?? []).join(','),
      [ENV.refreshMarginSeconds]: String(refreshMargin.toSeconds()),
      [ENV.sweepConcurrency]: String(sweepConcurrency),
    };
    for (const [provider, options] of this.configuredProviders(props)) {
      const meta = OAUTH_PROVIDERS[provider];
      env[meta.clientIdEnv] = options.clientId;
      if (options.scopes !== undefined) env[meta.scopesEnv] = options.scopes.join(' ');
    }
    const checkable = Object.fromEntries(
      Object.entries(env).filter(([, value]) => !Token.isUnresolved(value)),
    );
    let config: ReturnType<typeof loadConfig>;
    try {
      config = loadConfig(checkable);
    } catch (error) {
      throw new Error(`TokenBroker configuration: ${(error as Error).message}`, { cause: error });
    }
    if (!Token.isUnresolved(env[ENV.returnToOrigins])) {
      env[ENV.returnToOrigins] = config.returnToOrigins.join(',');
    }
    return {
      ...env,
      [EXTRA_ENV.powertoolsServiceName]: METRICS.service,
      [EXTRA_ENV.powertoolsMetricsNamespace]: METRICS.namespace,
      [EXTRA_ENV.powertoolsLogLevel]: props.logLevel ?? DEFAULTS.logLevel,
      // A handler's response is a token: X-Ray must never get it as metadata (Powertools' default).
      [EXTRA_ENV.powertoolsTracerCaptureResponse]: 'false',
      // Stack traces through the minified bundle point at the TypeScript sources.
      NODE_OPTIONS: '--enable-source-maps',
    };
  }

  private createFunction(
    name: BrokerFunctionName,
    spec: FunctionSpec,
    options: {
      logRetention: RetentionDays;
      logLevel: string;
      environment: Record<string, string>;
      retryAttempts?: number;
      maxEventAge?: Duration;
      onFailure?: SqsDestination;
    },
  ): NodejsFunction {
    const id = pascal(name);
    const logGroup = new LogGroup(this, `${id}Logs`, { retention: options.logRetention });
    // Own role instead of the AWS-managed basic execution policy: logs go to this log group only.
    const role = new Role(this, `${id}Role`, {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Token broker function "${name}"`,
    });
    logGroup.grantWrite(role);
    const fn = new NodejsFunction(this, `${id}Function`, {
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
      environment: options.environment,
      ...(options.retryAttempts !== undefined ? { retryAttempts: options.retryAttempts } : {}),
      ...(options.maxEventAge !== undefined ? { maxEventAge: options.maxEventAge } : {}),
      ...(options.onFailure !== undefined ? { onFailure: options.onFailure } : {}),
      // One definition, shared with the cold-start benchmark (infra/bundling.ts).
      bundling: LAMBDA_BUNDLING,
    });
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'X-Ray tracing (xray:PutTraceSegments, xray:PutTelemetryRecords) supports no resource-level ' +
        'permissions; it is the only statement on "*".',
    });
    return fn;
  }

  private createAlarms(functions: Record<BrokerFunctionName, IFunction>): Alarm[] {
    const action = new SnsAction(this.alarmTopic);
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
    const alarms: Alarm[] = [
      new Alarm(this, 'RefreshFailedAlarm', {
        alarmDescription:
          'Token refreshes keep failing (provider errors or timeouts); callers may get stale tokens or 503.',
        metric: appMetric(METRICS.refreshFailed),
        threshold: 3,
        evaluationPeriods: 3,
        datapointsToAlarm: 2,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
      new Alarm(this, 'ReauthorizationRequiredAlarm', {
        alarmDescription:
          'A provider refused a refresh token (invalid_grant): the retailer must connect again (GET /connections?status=reauthorization_required).',
        metric: appMetric(METRICS.reauthorizationRequired),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
      new Alarm(this, 'DeadLetterQueueAlarm', {
        alarmDescription: 'A sweep run failed or could not be invoked: see the dead-letter queue.',
        metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
          statistic: 'Maximum',
          period: Duration.minutes(5),
        }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
      ...(Object.entries(functions) as [BrokerFunctionName, IFunction][]).map(
        ([name, fn]) =>
          new Alarm(this, `${pascal(name)}ErrorsAlarm`, {
            alarmDescription: `The "${name}" function failed (unhandled error or timeout).`,
            metric: fn.metricErrors({ statistic: 'Sum', period: Duration.minutes(5) }),
            threshold: 1,
            evaluationPeriods: 1,
            comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treatMissingData: TreatMissingData.NOT_BREACHING,
          }),
      ),
    ];
    for (const alarm of alarms) {
      alarm.addAlarmAction(action);
      alarm.addOkAction(action);
    }
    return alarms;
  }
}

/** A JSON access log line per request. The route key, not the path: paths carry one-time session ids. */
function accessLogFormat(): AccessLogFormat {
  return AccessLogFormat.custom(
    JSON.stringify({
      requestId: '$context.requestId',
      requestTime: '$context.requestTime',
      sourceIp: '$context.identity.sourceIp',
      userAgent: '$context.identity.userAgent',
      caller: '$context.identity.userArn',
      routeKey: '$context.routeKey',
      status: '$context.status',
      protocol: '$context.protocol',
      responseLength: '$context.responseLength',
      responseLatency: '$context.responseLatency',
      integrationLatency: '$context.integrationLatency',
      integrationError: '$context.integrationErrorMessage',
      authorizerError: '$context.authorizer.error',
    }),
  );
}

const pascal = (name: string): string =>
  name
    .split(/[^A-Za-z0-9]+/)
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');

/** A value as cdk-nag names it in a finding id: intrinsics flattened to `<LogicalId.Attr>`, `<AWS::Region>`. */
function nagReference(stack: Stack, value: string): string {
  const visit = (node: unknown): string => {
    if (node === undefined) return '';
    if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/}/g, '>');
    if (typeof node === 'object' && node !== null) {
      const record = node as Record<string, unknown>;
      if (Array.isArray(record['Fn::Join'])) {
        const [delimiter, items] = record['Fn::Join'] as [string, unknown[]];
        return items.map(visit).join(delimiter);
      }
      if (Array.isArray(record['Fn::GetAtt'])) {
        const [resource, attribute] = record['Fn::GetAtt'] as [unknown, unknown];
        return `<${visit(resource)}.${visit(attribute)}>`;
      }
      if ('Ref' in record) return `<${visit(record.Ref)}>`;
    }
    return JSON.stringify(node);
  };
  return visit(stack.resolve(value));
}
