/**
 * The token broker on AWS as one reusable construct: table, secrets, one Lambda function per handler
 * group, the HTTP API built from the route table, the sweep schedule and the alarms. This file holds
 * the props and the composition; each part is a module of infra/broker/ that creates its resources in
 * this construct's scope, so their logical ids do not depend on how the code is split.
 *
 * Operators deploy it through `infra/app.ts`; CDK users can embed `TokenBroker` in their own stack.
 * Everything the functions read comes through the environment names in `shared/config.ts`, so the
 * Lambda functions are configured exactly like the local runtime.
 */
import { Duration, Stack, Token } from 'aws-cdk-lib';
import type { HttpApi, HttpStage, ThrottleSettings } from 'aws-cdk-lib/aws-apigatewayv2';
import type { ICertificate } from 'aws-cdk-lib/aws-certificatemanager';
import { ReadWriteType, type Trail } from 'aws-cdk-lib/aws-cloudtrail';
import type { Alarm } from 'aws-cdk-lib/aws-cloudwatch';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { EventBus } from 'aws-cdk-lib/aws-events';
import { type IGrantable, type ManagedPolicy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { Key } from 'aws-cdk-lib/aws-kms';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IHostedZone } from 'aws-cdk-lib/aws-route53';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Topic } from 'aws-cdk-lib/aws-sns';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV } from '../shared/config';
import { type OAuthProviderId, PROVIDER_DEFINITIONS, providerDefinition } from '../shared/providers';
import { clientSecretEnvironment, FUNCTION_ACCESS, grantAccess } from './broker/access';
import { createAlarms, createAlarmTopic } from './broker/alarms';
import { BrokerApi } from './broker/api';
import { createData } from './broker/data';
import { staticEnvironment } from './broker/environment';
import { type BrokerFunctionName, createFunctions } from './broker/functions';
import { createDeadLetterQueue, createSweepSchedule } from './broker/schedule';
import { type ConfiguredProvider, createClientSecrets, personalTokenArn } from './broker/secrets';

export { METRICS, TOKEN_DATA_KEY_CONTEXT } from '../shared/constants';
export { EXTRA_ENV } from './broker/environment';
export type { BrokerFunctionName } from './broker/functions';
export { LAMBDA_RUNTIME } from './bundling';

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
  /**
   * Run the functions with `NODE_OPTIONS=--enable-source-maps`, so that error stack traces name the
   * TypeScript sources. Node parses the bundle's source map while the bundle loads: in `npm run
   * bench` that is about a fifth of the tokens function's cold-start instructions
   * (`cold_init.cold_init_instructions`). Off, stack traces point into `index.js`; the map still
   * ships beside it in the function's asset, for reading them.
   * @default true
   */
  readonly sourceMapStackTraces?: boolean;
}

const DEFAULTS = {
  refreshMargin: Duration.minutes(15),
  sweepInterval: Duration.minutes(5),
  sweepConcurrency: 8,
  throttle: { rateLimit: 100, burstLimit: 200 },
  logRetention: RetentionDays.ONE_MONTH,
  logLevel: 'INFO',
  sourceMapStackTraces: true,
} as const;

/**
 * Direct KMS use of each function on the token data keys (`FUNCTION_ACCESS` in infra/broker/access.ts
 * says who does what and why).
 */
export const TOKEN_DATA_KEY_ACTIONS: Readonly<Record<BrokerFunctionName, readonly string[]>> =
  Object.fromEntries(
    Object.entries(FUNCTION_ACCESS).map(([name, access]) => [name, access.tokenDataKeys]),
  ) as Record<BrokerFunctionName, readonly string[]>;

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
  /**
   * `${publicUrl}/oauth/{provider}/install` of every configured provider whose installs may start on
   * its side (Shopify: the app URL registered in the Partner Dashboard).
   */
  readonly installUrls: Readonly<Partial<Record<OAuthProviderId, string>>>;
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
  private readonly backendRouteArns: string[];

  constructor(scope: Construct, id: string, props: TokenBrokerProps = {}) {
    super(scope, id);
    const stack = Stack.of(this);
    const sweepInterval = props.sweepInterval ?? DEFAULTS.sweepInterval;
    const logRetention = props.logRetention ?? DEFAULTS.logRetention;
    const logLevel = props.logLevel ?? DEFAULTS.logLevel;
    this.secretPrefix = props.secretPrefix ?? `${stack.stackName.toLowerCase()}/`;
    if (!Token.isUnresolved(this.secretPrefix) && !SECRET_PREFIX_PATTERN.test(this.secretPrefix)) {
      throw new Error(
        `secretPrefix must use Secrets Manager name characters and end with "/", got "${this.secretPrefix}"`,
      );
    }
    if (sweepInterval.toSeconds() < 60) throw new Error('sweepInterval must be at least one minute');
    const providers = configuredProviders(props);
    const staticEnv = staticEnvironment({
      providers,
      returnToOrigins: props.returnToOrigins ?? [],
      refreshMargin: props.refreshMargin ?? DEFAULTS.refreshMargin,
      sweepConcurrency: props.sweepConcurrency ?? DEFAULTS.sweepConcurrency,
      logLevel,
      sourceMapStackTraces: props.sourceMapStackTraces ?? DEFAULTS.sourceMapStackTraces,
    });

    ({ table: this.table, tableKey: this.tableKey } = createData(this));
    const clientSecrets = createClientSecrets(this, providers);
    this.clientSecrets = Object.freeze(clientSecrets);
    // The API before the functions: its URL is their BROKER_PUBLIC_URL.
    const api = new BrokerApi(this, { customDomain: props.customDomain, logRetention });
    this.api = api.api;
    this.publicUrl = api.publicUrl;
    this.redirectUris = Object.freeze(
      Object.fromEntries(
        Object.keys(clientSecrets).map((provider) => [
          provider,
          `${this.publicUrl}/oauth/${provider}/callback`,
        ]),
      ),
    );
    this.installUrls = Object.freeze(
      Object.fromEntries(
        Object.keys(clientSecrets)
          .filter((provider) => providerDefinition(provider).oauth?.startsInstalls === true)
          .map((provider) => [provider, `${this.publicUrl}/oauth/${provider}/install`]),
      ),
    );
    this.deadLetterQueue = createDeadLetterQueue(this);
    this.eventBus = new EventBus(this, 'EventBus', {
      description: `Token broker ${stack.stackName}: connection and personal-token events`,
    });

    this.functions = Object.freeze(
      createFunctions(this, {
        sweepInterval,
        deadLetterQueue: this.deadLetterQueue,
        logRetention,
        logLevel,
        environment: (name) => ({
          ...staticEnv,
          [ENV.publicUrl]: this.publicUrl,
          [ENV.tableName]: this.table.tableName,
          [ENV.secretPrefix]: this.secretPrefix,
          // Required on AWS: wraps the data keys that seal stored tokens, and encrypts personal-token secrets.
          [ENV.kmsKeyArn]: this.tableKey.keyArn,
          [ENV.eventBusName]: this.eventBus.eventBusName,
          ...clientSecretEnvironment(name, providers, clientSecrets),
        }),
      }),
    );
    grantAccess(this.functions, {
      table: this.table,
      tableKey: this.tableKey,
      clientSecrets,
      personalTokenArn: personalTokenArn(this, this.secretPrefix),
      eventBus: this.eventBus,
    });

    const served = api.serve({ functions: this.functions, throttle: props.throttle ?? DEFAULTS.throttle });
    this.stage = served.stage;
    this.backendInvokePolicy = served.backendInvokePolicy;
    this.backendRouteArns = api.backendRouteArns;

    createSweepSchedule(this, {
      sweep: this.functions.sweep,
      interval: sweepInterval,
      deadLetterQueue: this.deadLetterQueue,
    });
    this.alarmTopic = createAlarmTopic(this, props.alarmEmail);
    this.alarms = createAlarms(this, {
      topic: this.alarmTopic,
      deadLetterQueue: this.deadLetterQueue,
      functions: this.functions,
    });
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
}

/** The providers the props configure an OAuth app for, with what the construct knows about each. */
function configuredProviders(props: TokenBrokerProps): ConfiguredProvider[] {
  return (
    Object.entries(props.providers ?? {}) as [OAuthProviderId, OAuthClientOptions | undefined][]
  ).flatMap(([id, options]) => {
    if (options === undefined) return [];
    // A JavaScript caller's typo would otherwise deploy without that app, or fail deep in the synth.
    if (!Object.hasOwn(OAUTH_PROVIDERS, id)) {
      throw new Error(
        `providers.${id}: no OAuth provider has this id (known: ${Object.keys(OAUTH_PROVIDERS).join(', ')})`,
      );
    }
    return [{ id, settings: OAUTH_PROVIDERS[id], options }];
  });
}
