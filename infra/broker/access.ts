/**
 * Least privilege, function by function: one table says what each function may touch, and
 * `grantAccess` turns it into the IAM statements, the client-secret environment and the cdk-nag
 * acknowledgements. A function that needs more gets it here, in one reviewed place.
 */
import { Stack, Validations } from 'aws-cdk-lib';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import type { EventBus } from 'aws-cdk-lib/aws-events';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { Key } from 'aws-cdk-lib/aws-kms';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { TABLE } from '../../shared/adapters/dynamodb/schema';
import { TOKEN_DATA_KEY_CONTEXT } from '../../shared/constants';
import type { BrokerFunctionName } from './functions';
import { nagReference } from './naming';
import type { ConfiguredProvider } from './secrets';

export interface FunctionAccess {
  /**
   * Indexes the function queries besides the table. The provider index: admin lists. The sweep index:
   * the sweep finds what is due; admin and public count the stores connected per app on it (the
   * unapproved-app limit).
   */
  readonly indexes: readonly string[];
  /**
   * Services through which the function uses the table key: every function reads the table; only the
   * functions that read (tokens) or write (admin) personal-token secrets use it through Secrets Manager
   * (the client secrets are under the aws/secretsmanager key).
   */
  readonly keyViaServices: readonly ('dynamodb' | 'secretsmanager')[];
  /**
   * Direct KMS use on the token data keys, only with the broker's encryption context: public only
   * seals the tokens of a new connection; tokens and sweep open refresh tokens and seal refreshed ones;
   * admin never touches a token (metadata reads open nothing).
   */
  readonly tokenDataKeys: readonly string[];
  /** Reads the OAuth client secrets (and gets their ARNs): only the functions that call a token endpoint. */
  readonly clientSecrets: boolean;
  /** The personal-token secrets: tokens reads them, admin manages them. */
  readonly personalTokens: 'read' | 'manage' | 'none';
}

export const FUNCTION_ACCESS: Readonly<Record<BrokerFunctionName, FunctionAccess>> = {
  public: {
    indexes: [TABLE.sweepIndex.name],
    keyViaServices: ['dynamodb'],
    tokenDataKeys: ['kms:GenerateDataKey'],
    clientSecrets: true,
    personalTokens: 'none',
  },
  tokens: {
    indexes: [],
    keyViaServices: ['dynamodb', 'secretsmanager'],
    tokenDataKeys: ['kms:Decrypt', 'kms:GenerateDataKey'],
    clientSecrets: true,
    personalTokens: 'read',
  },
  admin: {
    indexes: [TABLE.providerIndex.name, TABLE.sweepIndex.name],
    keyViaServices: ['dynamodb', 'secretsmanager'],
    tokenDataKeys: [],
    clientSecrets: false,
    personalTokens: 'manage',
  },
  sweep: {
    indexes: [TABLE.sweepIndex.name],
    keyViaServices: ['dynamodb'],
    tokenDataKeys: ['kms:Decrypt', 'kms:GenerateDataKey'],
    clientSecrets: true,
    personalTokens: 'none',
  },
};

/**
 * Table actions the functions may use. No `Scan` (never on a request path nor in the sweep) and no
 * table management.
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
const PERSONAL_TOKEN_STATEMENTS = {
  read: {
    sid: 'ReadPersonalTokens',
    actions: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
  },
  manage: {
    sid: 'ManagePersonalTokens',
    actions: [
      'secretsmanager:CreateSecret',
      'secretsmanager:PutSecretValue',
      'secretsmanager:DeleteSecret',
      'secretsmanager:DescribeSecret',
      'secretsmanager:TagResource',
    ],
  },
} as const;

export interface AccessTargets {
  readonly table: Table;
  readonly tableKey: Key;
  readonly clientSecrets: Readonly<Record<string, ISecret>>;
  /** `personalTokenArn()` of infra/broker/secrets.ts. */
  readonly personalTokenArn: string;
  readonly eventBus: EventBus;
}

/** The client-secret ARN variables a function gets: only those of the functions that may read them. */
export function clientSecretEnvironment(
  name: BrokerFunctionName,
  providers: readonly ConfiguredProvider[],
  clientSecrets: Readonly<Record<string, ISecret>>,
): Record<string, string> {
  if (!FUNCTION_ACCESS[name].clientSecrets) return {};
  return Object.fromEntries(
    providers.map(({ id, settings }) => [settings.clientSecretArnEnv, clientSecrets[id]!.secretArn]),
  );
}

/** Applies `FUNCTION_ACCESS` to the functions' roles, with the acknowledgements its wildcards need. */
export function grantAccess(
  functions: Readonly<Record<BrokerFunctionName, NodejsFunction>>,
  to: AccessTargets,
) {
  for (const name of Object.keys(functions) as BrokerFunctionName[]) {
    const access = FUNCTION_ACCESS[name];
    const fn = functions[name];
    const role = fn.role!;
    const stack = Stack.of(fn);
    role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: 'BrokerTable',
        actions: TABLE_ACTIONS,
        resources: [
          to.table.tableArn,
          ...access.indexes.map((index) => `${to.table.tableArn}/index/${index}`),
        ],
      }),
    );
    role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: 'TableKeyThroughServices',
        actions: KEY_VIA_SERVICE_ACTIONS,
        resources: [to.tableKey.keyArn],
        conditions: {
          StringEquals: {
            'kms:ViaService': access.keyViaServices.map(
              (service) => `${service}.${stack.region}.${stack.urlSuffix}`,
            ),
          },
        },
      }),
    );
    if (access.tokenDataKeys.length > 0) {
      role.addToPrincipalPolicy(
        new PolicyStatement({
          sid: 'TokenDataKeys',
          actions: [...access.tokenDataKeys],
          resources: [to.tableKey.keyArn],
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
    if (access.clientSecrets) {
      for (const secret of Object.values(to.clientSecrets)) secret.grantRead(role);
    }
    // Every function emits some event (connected, refreshed, reauthorization_required, deleted, expiring).
    to.eventBus.grantPutEventsTo(fn);
    if (access.personalTokens !== 'none') {
      const { sid, actions } = PERSONAL_TOKEN_STATEMENTS[access.personalTokens];
      role.addToPrincipalPolicy(
        new PolicyStatement({ sid, actions: [...actions], resources: [to.personalTokenArn] }),
      );
      Validations.of(role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${nagReference(stack, to.personalTokenArn)}]`,
        reason:
          'Personal tokens are one secret per (provider, account), created at runtime; access is limited to ' +
          'the broker prefix `personal/` (Secrets Manager appends a random suffix, so no exact ARN exists).',
      });
    }
  }
}
