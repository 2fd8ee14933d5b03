/**
 * The construct's shape (issue 12, point 4): parts in infra/broker/, per-function access as one table
 * that yields IAM, environment and cdk-nag acknowledgements, and the identifiers infra and runtime share
 * defined once.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { FUNCTION_ACCESS } from '../../infra/broker/access';
import { acknowledgements } from '../../infra/compliance';
import { type BrokerFunctionName, OAUTH_PROVIDERS } from '../../infra/token-broker';
import { functionIds, type Resource, type Synth, synthBroker } from './support';

async function sources(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith('.ts')).map((e) => join(e.parentPath, e.name));
}

const NAMES = Object.keys(FUNCTION_ACCESS) as BrokerFunctionName[];
let synth: Synth;
let resources: Record<string, Resource>;

beforeAll(() => {
  synth = synthBroker();
  resources = synth.template.toJSON().Resources as Record<string, Resource>;
});

describe('the TokenBroker construct, split into parts', () => {
  it('has no infra source file over 400 lines, and one module per part under infra/broker/', async () => {
    for (const file of await sources('infra')) {
      const lines = (await readFile(file, 'utf8')).split('\n').length;
      expect(lines, file).toBeLessThanOrEqual(400);
    }
    const parts = (await sources('infra/broker')).map((file) => file.replace('infra/broker/', ''));
    expect(parts).toEqual(
      expect.arrayContaining([
        'data.ts',
        'secrets.ts',
        'functions.ts',
        'api.ts',
        'schedule.ts',
        'alarms.ts',
        'access.ts',
      ]),
    );
  });

  it('acknowledges the personal-token wildcard exactly on the roles the access table lets use personal tokens', () => {
    const personalAcks = acknowledgements(synth.app).filter(
      (ack) => ack.id.includes('AwsSolutions-IAM5') && ack.id.includes(':secret:tokenbroker/personal/*'),
    );
    for (const name of NAMES) {
      const role = synth.stack.broker.functions[name].role!.node.path;
      const acknowledged = personalAcks.some((ack) => ack.path === role);
      expect(acknowledged, name).toBe(FUNCTION_ACCESS[name].personalTokens !== 'none');
    }
  });

  it('names the client secrets only to the functions the access table lets read them', () => {
    const secretEnv = OAUTH_PROVIDERS['lightspeed-x'].clientSecretArnEnv;
    for (const name of NAMES) {
      const { functionId } = functionIds(synth, name);
      const environment = resources[functionId]!.Properties!.Environment as {
        Variables: Record<string, unknown>;
      };
      const variables = environment.Variables;
      expect(secretEnv in variables, name).toBe(FUNCTION_ACCESS[name].clientSecrets);
    }
  });

  it('defines the metrics namespace, the KMS encryption context and the event source once (shared/constants.ts)', async () => {
    const files = [
      ...(await sources('infra')),
      ...(await sources('functions')),
      ...(await sources('shared')),
    ];
    for (const file of files) {
      if (file === join('shared', 'constants.ts')) continue;
      const text = await readFile(file, 'utf8');
      expect(text, file).not.toMatch(/namespace: '|'token-data-key'|const EVENT_SOURCE =/);
    }
  });

  it('derives construct and output ids from names in one place (pascal)', async () => {
    const spelled = [];
    for (const file of await sources('infra')) {
      if ((await readFile(file, 'utf8')).includes('.charAt(0).toUpperCase()')) spelled.push(file);
    }
    expect(spelled).toEqual([join('infra', 'broker', 'naming.ts')]);
  });
});
