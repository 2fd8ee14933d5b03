import { DecryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, describe, expect, it } from 'vitest';
import { type BrokerFunctionName, TOKEN_DATA_KEY_CONTEXT } from '../../infra/token-broker';
import { KmsKeyProvider } from '../../shared/adapters/crypto/kms-keys';
import { TABLE } from '../../shared/adapters/dynamodb/schema';
import {
  allows,
  allStatements,
  functionIds,
  functionStatements,
  type Resource,
  type Statement,
  type Synth,
  synthBroker,
  TEST_ENV,
  TEST_PROPS,
} from './support';

const NAMES: BrokerFunctionName[] = ['public', 'tokens', 'admin', 'sweep'];
let synth: Synth;
let statements: Record<BrokerFunctionName, Statement[]>;
let ids: { table: string; key: string; clientSecret: string };

const secretArn = (name: string) =>
  `arn:aws:secretsmanager:${TEST_ENV.region}:${TEST_ENV.account}:secret:${name}-AbCdEf`;
const PERSONAL = secretArn('tokenbroker/personal/lightspeed-x/demo-store');
const OTHER_SECRET = secretArn('someone-else/database-password');

beforeAll(() => {
  synth = synthBroker();
  statements = Object.fromEntries(NAMES.map((name) => [name, functionStatements(synth, name)])) as Record<
    BrokerFunctionName,
    Statement[]
  >;
  const broker = synth.stack.broker;
  ids = {
    table: synth.stack.getLogicalId(broker.table.node.defaultChild as never),
    key: synth.stack.getLogicalId(broker.tableKey.node.defaultChild as never),
    clientSecret: synth.stack.getLogicalId(broker.clientSecrets['lightspeed-x']!.node.defaultChild as never),
  };
});

describe('IAM least privilege', () => {
  it('grants no DynamoDB, Secrets Manager or KMS action on "*" anywhere', () => {
    for (const statement of allStatements(synth.template)) {
      if (statement.effect !== 'Allow') continue;
      const sensitive = statement.actions.some(
        (action) => /^(dynamodb|secretsmanager|kms):/i.test(action) || action === '*',
      );
      if (!sensitive) continue;
      expect(statement.resources, `${statement.source}: ${statement.actions.join(',')}`).not.toContain('*');
    }
  });

  it('uses "*" only for the X-Ray actions, which have no resource-level permissions', () => {
    for (const statement of allStatements(synth.template)) {
      if (statement.effect === 'Allow' && statement.resources.includes('*')) {
        expect(statement.actions.sort(), statement.source).toEqual([
          'xray:PutTelemetryRecords',
          'xray:PutTraceSegments',
        ]);
      }
    }
  });

  it('grants no wildcard actions', () => {
    for (const statement of allStatements(synth.template)) {
      if (statement.effect !== 'Allow') continue;
      for (const action of statement.actions) expect(action, statement.source).not.toMatch(/\*/);
    }
  });

  it('gives the functions their own roles, without AWS-managed policies', () => {
    const roles = new Set(NAMES.map((name) => functionIds(synth, name).roleId));
    expect(roles.size).toBe(NAMES.length);
    for (const roleId of roles) {
      const role = synth.template.toJSON().Resources[roleId] as Resource;
      expect(role.Properties?.ManagedPolicyArns).toBeUndefined();
    }
  });

  it.each(NAMES)('%s reads and writes the table items, but never scans nor manages the table', (name) => {
    const table = `<${ids.table}.Arn>`;
    for (const action of ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'Query']) {
      expect(allows(statements[name], `dynamodb:${action}`, table), action).toBe(true);
    }
    for (const action of [
      'Scan',
      'DeleteTable',
      'UpdateTable',
      'CreateBackup',
      'RestoreTableToPointInTime',
    ]) {
      expect(allows(statements[name], `dynamodb:${action}`, table), action).toBe(false);
    }
    expect(
      allows(statements[name], 'dynamodb:GetItem', 'arn:aws:dynamodb:eu-central-1:123456789012:table/other'),
    ).toBe(false);
  });

  it('lets the sweep, admin and public (store counts) query the sweep index, and only admin the provider index', () => {
    const index = (name: string) => `<${ids.table}.Arn>/index/${name}`;
    for (const name of NAMES) {
      expect(allows(statements[name], 'dynamodb:Query', index(TABLE.sweepIndex.name)), name).toBe(
        name !== 'tokens',
      );
      expect(allows(statements[name], 'dynamodb:Query', index(TABLE.providerIndex.name)), name).toBe(
        name === 'admin',
      );
    }
  });

  describe('the table key', () => {
    const key = () => `<${ids.key}.Arn>`;
    const OTHER_KEY = 'arn:aws:kms:eu-central-1:123456789012:key/other';
    const via = (service: string) => ({ 'kms:ViaService': `${service}.${TEST_ENV.region}.amazonaws.com` });
    const tokenContext = Object.fromEntries(
      Object.entries(TOKEN_DATA_KEY_CONTEXT).map(([k, v]) => [`kms:EncryptionContext:${k}`, v]),
    );

    it.each(NAMES)(
      '%s may use it through DynamoDB (and Secrets Manager if it needs personal tokens), and no other key',
      (name) => {
        const personalTokens = name === 'tokens' || name === 'admin';
        for (const action of ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey']) {
          for (const service of ['dynamodb', 'secretsmanager']) {
            expect(allows(statements[name], action, key(), via(service)), `${action} via ${service}`).toBe(
              service === 'dynamodb' || personalTokens,
            );
            expect(allows(statements[name], action, OTHER_KEY, via(service)), action).toBe(false);
          }
          expect(allows(statements[name], action, key(), via('s3')), `${action} via s3`).toBe(false);
        }
        expect(allows(statements[name], 'kms:ScheduleKeyDeletion', key(), via('dynamodb'))).toBe(false);
      },
    );

    it.each(NAMES)(
      '%s may use it directly only as it needs, and only with the token data-key context',
      (name) => {
        // public seals a new connection's tokens; tokens and sweep also open refresh tokens; admin neither.
        const seals = name !== 'admin';
        const opens = name === 'tokens' || name === 'sweep';
        expect(allows(statements[name], 'kms:Decrypt', key(), tokenContext)).toBe(opens);
        expect(allows(statements[name], 'kms:GenerateDataKey', key(), tokenContext)).toBe(seals);
        for (const action of ['kms:Decrypt', 'kms:GenerateDataKey', 'kms:Encrypt']) {
          expect(allows(statements[name], action, key()), `${action} without context`).toBe(false);
          expect(
            allows(statements[name], action, key(), {
              ...tokenContext,
              'kms:EncryptionContext:purpose': 'other',
            }),
            `${action} with another context`,
          ).toBe(false);
        }
      },
    );

    it('matches the encryption context the KMS adapter actually sends', async () => {
      const kms = mockClient(KMSClient);
      kms.on(GenerateDataKeyCommand).resolves({
        Plaintext: new Uint8Array(32),
        CiphertextBlob: new Uint8Array([1, 2, 3]),
        KeyId: 'arn:aws:kms:eu-central-1:123456789012:key/k',
      });
      kms.on(DecryptCommand).resolves({ Plaintext: new Uint8Array(32) });
      try {
        const provider = new KmsKeyProvider(new KMSClient({ region: TEST_ENV.region }), 'key-arn');
        const { wrapped } = await provider.generateDataKey();
        await provider.unwrap(wrapped);
        const sent = [
          ...kms.commandCalls(GenerateDataKeyCommand).map((call) => call.args[0].input.EncryptionContext),
          ...kms.commandCalls(DecryptCommand).map((call) => call.args[0].input.EncryptionContext),
        ];
        expect(sent).toHaveLength(2);
        for (const context of sent) expect(context).toEqual(TOKEN_DATA_KEY_CONTEXT);
      } finally {
        kms.restore();
      }
    });
  });

  it('lets the public-route functions and the sweep read the client secret, and not admin', () => {
    const clientSecret = `<${ids.clientSecret}>`;
    expect(allows(statements.public, 'secretsmanager:GetSecretValue', clientSecret)).toBe(true);
    expect(allows(statements.tokens, 'secretsmanager:GetSecretValue', clientSecret)).toBe(true);
    expect(allows(statements.sweep, 'secretsmanager:GetSecretValue', clientSecret)).toBe(true);
    expect(allows(statements.admin, 'secretsmanager:GetSecretValue', clientSecret)).toBe(false);
  });

  it('keeps personal tokens unreadable for the public-route functions, the sweep and admin', () => {
    for (const name of ['public', 'sweep', 'admin'] as const) {
      expect(allows(statements[name], 'secretsmanager:GetSecretValue', PERSONAL), name).toBe(false);
    }
  });

  it('lets the tokens function read personal tokens under the prefix, and nothing else', () => {
    expect(allows(statements.tokens, 'secretsmanager:GetSecretValue', PERSONAL)).toBe(true);
    expect(allows(statements.tokens, 'secretsmanager:DescribeSecret', PERSONAL)).toBe(true);
    expect(allows(statements.tokens, 'secretsmanager:GetSecretValue', OTHER_SECRET)).toBe(false);
    expect(
      allows(statements.tokens, 'secretsmanager:GetSecretValue', secretArn('tokenbroker/client/x')),
    ).toBe(false);
    for (const action of ['CreateSecret', 'PutSecretValue', 'DeleteSecret']) {
      expect(allows(statements.tokens, `secretsmanager:${action}`, PERSONAL), action).toBe(false);
    }
  });

  it('lets admin create, replace and delete personal tokens under the prefix, without reading them', () => {
    for (const action of [
      'CreateSecret',
      'PutSecretValue',
      'DeleteSecret',
      'DescribeSecret',
      'TagResource',
    ]) {
      expect(allows(statements.admin, `secretsmanager:${action}`, PERSONAL), action).toBe(true);
      expect(allows(statements.admin, `secretsmanager:${action}`, OTHER_SECRET), action).toBe(false);
    }
    expect(allows(statements.admin, 'secretsmanager:GetSecretValue', PERSONAL)).toBe(false);
  });

  it('lets no function change the client secret', () => {
    for (const name of NAMES) {
      for (const action of ['PutSecretValue', 'DeleteSecret', 'UpdateSecret']) {
        expect(
          allows(statements[name], `secretsmanager:${action}`, `<${ids.clientSecret}>`),
          `${name} ${action}`,
        ).toBe(false);
      }
    }
  });

  it('lets each function write only its own log group', () => {
    for (const name of NAMES) {
      const logGroup = synth.stack.getLogicalId(
        synth.stack.broker.node.findChild(`${name.charAt(0).toUpperCase()}${name.slice(1)}Logs`).node
          .defaultChild as never,
      );
      expect(allows(statements[name], 'logs:PutLogEvents', `<${logGroup}.Arn>`)).toBe(true);
      const others = NAMES.filter((other) => other !== name);
      for (const other of others) {
        const otherGroup = synth.stack.getLogicalId(
          synth.stack.broker.node.findChild(`${other.charAt(0).toUpperCase()}${other.slice(1)}Logs`).node
            .defaultChild as never,
        );
        expect(allows(statements[name], 'logs:PutLogEvents', `<${otherGroup}.Arn>`)).toBe(false);
      }
    }
  });

  it('scopes personal tokens to a configured secret prefix', () => {
    const custom = synthBroker({ ...TEST_PROPS, secretPrefix: 'acme/broker/' }, { stackName: 'Prefixed' });
    const tokens = functionStatements(custom, 'tokens');
    expect(
      allows(tokens, 'secretsmanager:GetSecretValue', secretArn('acme/broker/personal/xentral/shop1')),
    ).toBe(true);
    expect(allows(tokens, 'secretsmanager:GetSecretValue', PERSONAL)).toBe(false);
  });

  it('reads an imported client secret by its ARN only', () => {
    const arn = secretArn('ops/lightspeed-client-secret');
    const custom = synthBroker(
      { ...TEST_PROPS, providers: { 'lightspeed-x': { clientId: 'test-client-id', clientSecretArn: arn } } },
      { stackName: 'Imported' },
    );
    custom.template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    expect(allows(functionStatements(custom, 'public'), 'secretsmanager:GetSecretValue', arn)).toBe(true);
    expect(allows(functionStatements(custom, 'admin'), 'secretsmanager:GetSecretValue', arn)).toBe(false);
  });
});
