/**
 * The `token-broker` CLI as users run it (`node client/bin.mjs …`, a separate process) against an
 * in-process local broker; plus the hidden prompt, driven in-process with a stand-in terminal.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT, run } from '../../client/cli';
import { PROVIDER_DEFINITIONS, PROVIDER_IDS } from '../../shared/providers';
import {
  connect,
  openCallback,
  openConnectLink,
  startTestBroker,
  TEST_API_KEY,
  type TestBroker,
  type TokenBody,
} from '../helpers/broker';

const BIN = fileURLToPath(new URL('../../client/bin.mjs', import.meta.url));

let t: TestBroker;
/** The CLI's working directory: empty, so no stray .broker/api-key is found. */
let cwd: string;

beforeAll(async () => {
  [t, cwd] = await Promise.all([startTestBroker(), mkdtemp(join(tmpdir(), 'cli-test-'))]);
});
afterAll(async () => {
  await t.close();
  await rm(cwd, { recursive: true, force: true });
});

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  args: readonly string[];
}

/** Runs `node client/bin.mjs …args` with a minimal environment pointed at the test broker. */
function cli(
  args: readonly string[],
  options: { stdin?: string; env?: Record<string, string | undefined> } = {},
): Promise<CliResult> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };
  for (const [name, value] of Object.entries({
    BROKER_URL: t.url,
    BROKER_API_KEY: TEST_API_KEY,
    ...options.env,
  })) {
    if (value !== undefined) env[name] = value;
  }
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  child.stdin.end(options.stdin ?? '');
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr, args }));
  });
}

const parse = <T = Record<string, unknown>>(text: string) => JSON.parse(text) as T;

describe('token-broker CLI', () => {
  // Twelve processes: run side by side.
  it.concurrent.each([
    [[], 'token-broker [options] [command]'],
    [['connect-link'], 'token-broker connect-link [options] <provider>'],
    [['connections'], 'token-broker connections [options] [command]'],
    [['connections', 'list'], 'token-broker connections list [options]'],
    [['connections', 'show'], 'token-broker connections show [options] <provider> <account>'],
    [['connections', 'delete'], 'token-broker connections delete [options] <provider> <account>'],
    [['personal-token'], 'token-broker personal-token [options] [command]'],
    [['personal-token', 'put'], 'token-broker personal-token put [options] <provider> <account>'],
    [['personal-token', 'delete'], 'token-broker personal-token delete [options] <provider> <account>'],
    [['personal-token', 'list'], 'token-broker personal-token list [options]'],
    [['token'], 'token-broker token [options] [command]'],
    [['token', 'get'], 'token-broker token get [options] <provider> <account>'],
  ])('prints help for %j with --help', async (command, usage) => {
    const { code, stdout } = await cli([...command, '--help']);
    expect(code).toBe(0);
    expect(stdout).toContain(`Usage: ${usage}`);
    expect(stdout).toContain('--json');
    expect(stdout).toContain('--url <url>');
  });

  it('creates a connect link with --json that starts the OAuth flow', async () => {
    const { code, stdout } = await cli(['connect-link', 'lightspeed-x', '--reference', 'tenant-7', '--json']);
    expect(code).toBe(0);
    const session = parse<{ id: string; connect_url: string; expires_at: string }>(stdout);
    expect(session.connect_url).toBe(`${t.url}/connect/${session.id}`);
    expect(Date.parse(session.expires_at)).toBeGreaterThan(Date.now());
    expect((await openConnectLink(session.connect_url)).location).toContain('response_type=code');
  });

  it('passes --account to the session: a Shopify link goes to that shop, and the shop comes back on the connection', async () => {
    const created = await cli(['connect-link', 'shopify', '--account', 'cli-shop', '--json']);
    expect(created.code, created.stderr).toBe(0);
    const auth = await openConnectLink(parse<{ connect_url: string }>(created.stdout).connect_url);
    expect(auth.location).toContain('cli-shop');
    const shopify = t.broker.simulators.shopify;
    if (shopify === undefined) throw new Error('the test broker has no Shopify simulator');
    const callback = await openCallback(shopify.consent(auth.location, { account: 'cli-shop' }), auth.cookie);
    await callback.text();

    const json = await cli(['connections', 'show', 'shopify', 'cli-shop', '--json']);
    expect(json.code, json.stderr).toBe(0);
    const metadata = parse<{ refresh_expires_at: string | null; renew_by: string | null }>(json.stdout);
    expect(metadata).toMatchObject({ provider: 'shopify', account: 'cli-shop', source: 'oauth' });
    expect(Date.parse(String(metadata.renew_by))).toBeGreaterThan(Date.now());
    const human = await cli(['connections', 'show', 'shopify', 'cli-shop']);
    expect(human.stdout).toMatch(/^renew_by\s+\S+Z \(in \d+d \d+h\)$/m);
    expect(human.stdout).toMatch(/^refresh_expires_at\s+(?:-|\S+Z \(in .+\))$/m);
  });

  it('gets the broker’s invalid_request, naming the account, for a Shopify link without --account', async () => {
    const { code, stderr } = await cli(['connect-link', 'shopify']);
    expect(code).toBe(EXIT.usage);
    expect(stderr).toMatch(/^token-broker: invalid_request: .*account/);
  });

  it('hands an account in the wrong syntax to the broker, whose message states the provider’s rule', async () => {
    const square = PROVIDER_DEFINITIONS.find((d) => d.id === 'square');
    const { code, stderr } = await cli(['connect-link', 'square', '--account', 'not-a-merchant', '--json']);
    expect(code).toBe(EXIT.usage);
    expect(parse<{ error: string; message: string }>(stderr)).toMatchObject({
      error: 'invalid_request',
      message: expect.stringContaining(square?.account.syntax ?? 'no square definition'),
    });
  });

  it('offers connect links and personal tokens only for the providers that have them', async () => {
    const link = await cli(['connect-link', 'xentral']);
    expect(link.code).toBe(EXIT.usage);
    expect(link.stderr).toContain('Allowed choices are lightspeed-x, shopify, square, clover, lightspeed-r');
    const put = await cli(['personal-token', 'put', 'lightspeed-r', '123456'], { stdin: 'a-token\n' });
    expect(put.code).toBe(EXIT.usage);
    expect(put.stderr).toContain("value 'lightspeed-r' is invalid for argument 'provider'");
  });

  it('describes every provider’s account, and which need it first, in the help from the registry', async () => {
    const { stdout } = await cli(['connect-link', '--help']);
    const help = stdout.replace(/\s+/g, ' ');
    expect(help).toContain('--account <account> the account being connected; required for shopify;');
    expect(help).toContain('optional for lightspeed-x, square, clover and lightspeed-r');
    for (const definition of PROVIDER_DEFINITIONS.filter((d) => d.oauth !== undefined)) {
      expect(help).toContain(
        `${definition.id}: ${definition.account.description}, e.g. ${definition.account.example}`,
      );
    }
    expect(help).toContain('token-broker connect-link shopify --account demo-shop');
    const show = (await cli(['connections', 'show', '--help'])).stdout.replace(/\s+/g, ' ');
    for (const definition of PROVIDER_DEFINITIONS) expect(show).toContain(definition.account.description);
    const personal = (await cli(['personal-token', '--help'])).stdout.replace(/\s+/g, ' ');
    expect(personal).toContain('not Lightspeed Retail R-Series');
  });

  it('lists connections as an aligned table', async () => {
    await connect(t, 'cli-store', { provider: 'lightspeed-x', reference: 'tenant-9' });
    const { code, stdout } = await cli(['connections', 'list', '--provider', 'lightspeed-x']);
    expect(code).toBe(0);
    const [header, ...rows] = stdout.trimEnd().split('\n');
    expect(header).toMatch(/^PROVIDER\s+ACCOUNT\s+SOURCE\s+STATUS\s+EXPIRES\s+REFERENCE$/);
    const row = rows.find((r) => r.includes('cli-store')) ?? '';
    expect(row).toMatch(/^lightspeed-x\s+cli-store\s+oauth\s+active\s+\S+Z \(in 23h \d+m\)\s+tenant-9$/);
    expect(row.indexOf('cli-store')).toBe(header?.indexOf('ACCOUNT'));
  });

  it('follows next_token through every page with --all', async () => {
    for (const account of ['pages-a', 'pages-b', 'pages-c']) {
      await t.json(`/personal-tokens/lightspeed-x/${account}`, {
        method: 'PUT',
        body: JSON.stringify({ token: `token-of-${account}` }),
      });
    }
    const one = await cli(['connections', 'list', '--limit', '1', '--json']);
    expect(parse<{ connections: unknown[]; next_token?: string }>(one.stdout)).toMatchObject({
      connections: [expect.anything()],
      next_token: expect.any(String),
    });
    const all = await cli(['connections', 'list', '--limit', '1', '--all', '--json']);
    expect(all.code).toBe(0);
    const accounts = parse<{ connections: { account: string }[] }>(all.stdout).connections.map(
      (c) => c.account,
    );
    expect(accounts).toEqual(expect.arrayContaining(['pages-a', 'pages-b', 'pages-c']));
    expect(new Set(accounts).size).toBe(accounts.length);
  });

  it('stores a personal token read from stdin, never from or into argv or output', async () => {
    const secret = 'cli-secret-token-0123456789';
    const expiresAt = new Date(Date.now() + 30 * 86_400_000).toISOString();
    const put = await cli(
      ['personal-token', 'put', 'xentral', 'cli-acme', '--name', 'ERP sync', '--expires-at', expiresAt],
      {
        stdin: `${secret}\n`,
      },
    );
    expect(put.code, put.stderr).toBe(0);
    expect(put.args.join(' ')).not.toContain(secret);
    expect(put.stdout + put.stderr).not.toContain(secret);
    expect(put.stdout).toMatch(/name\s+ERP sync/);
    // The broker got the value from stdin, without the newline.
    expect((await t.json<TokenBody>('/tokens/xentral/cli-acme')).body.access_token).toBe(secret);

    const list = await cli(['personal-token', 'list']);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^PROVIDER\s+ACCOUNT\s+NAME\s+STATUS\s+EXPIRES/);
    expect(list.stdout).toMatch(
      new RegExp(`xentral\\s+cli-acme\\s+ERP sync\\s+active\\s+${expiresAt.slice(0, 19)}`),
    );
    expect(list.stdout).not.toContain('oauth');
    expect(list.stdout).not.toContain(secret);
  });

  it('has the broker verify the token with --verify, refusing one the provider does not accept', async () => {
    const unknown = await cli(['personal-token', 'put', 'xentral', 'cli-verify', '--verify'], {
      stdin: 'not-a-token-xentral-knows\n',
    });
    expect(unknown.code).toBe(EXIT.usage);
    expect(unknown.stderr).toContain('invalid_request');
    expect((await t.json('/connections/xentral/cli-verify')).status).toBe(404);

    const known = t.broker.xentralSimulator!.createToken('cli-verify');
    const put = await cli(['personal-token', 'put', 'xentral', 'cli-verify', '--verify'], {
      stdin: `${known}\n`,
    });
    expect(put.code, put.stderr).toBe(0);
    expect((await t.json<TokenBody>('/tokens/xentral/cli-verify')).body.access_token).toBe(known);
  });

  it('refuses to store an empty token', async () => {
    const { code, stderr } = await cli(['personal-token', 'put', 'xentral', 'empty-acme'], { stdin: '' });
    expect(code).toBe(EXIT.usage);
    expect(stderr).toContain('stdin');
  });

  it('gets a token with --json, the contract’s token response', async () => {
    await connect(t, 'get-store');
    const expected = (await t.json<TokenBody>('/tokens/lightspeed-x/get-store')).body;
    const { code, stdout } = await cli([
      'token',
      'get',
      'lightspeed-x',
      'get-store',
      '--min-valid-seconds',
      '60',
      '--json',
    ]);
    expect(code).toBe(0);
    expect(parse(stdout)).toEqual(expected);
    const only = await cli(['token', 'get', 'lightspeed-x', 'get-store', '--token-only']);
    expect(only.stdout).toBe(`${expected.access_token}\n`);
  });

  it('exits 4 with the contract’s error code on stderr for a 404', async () => {
    const human = await cli(['token', 'get', 'lightspeed-x', 'nobody-store']);
    expect(human.code).toBe(EXIT.notFound);
    expect(human.stdout).toBe('');
    expect(human.stderr).toMatch(/^token-broker: not_found: /);
    const json = await cli(['connections', 'show', 'lightspeed-x', 'nobody-store', '--json']);
    expect(json.code).toBe(EXIT.notFound);
    expect(parse(json.stderr)).toMatchObject({
      error: 'not_found',
      status: 404,
      message: expect.any(String),
    });
  });

  it.each([
    ['reauthorization_required', EXIT.reauthorizationRequired],
    ['unauthorized', EXIT.unauthorized],
    ['invalid_request', EXIT.usage],
    ['unreachable', EXIT.unreachable],
  ])('exits with a distinct code for %s', async (kind, exitCode) => {
    let args = ['token', 'get', 'lightspeed-x', 'some-store'];
    let env: Record<string, string> = {};
    if (kind === 'reauthorization_required') {
      await connect(t, 'cli-dead-store');
      t.simulator.revokeAccount('cli-dead-store');
      args = ['token', 'get', 'lightspeed-x', 'cli-dead-store', '--force-refresh'];
    }
    if (kind === 'unauthorized') env = { BROKER_API_KEY: 'wrong-key-0123456789abcdef' };
    if (kind === 'invalid_request') args = ['token', 'get', 'lightspeed-x', 'Not_A_Label'];
    if (kind === 'unreachable') env = { BROKER_URL: 'http://127.0.0.1:9' };
    const { code, stderr } = await cli(args, { env });
    expect(code).toBe(exitCode);
    if (kind !== 'unreachable') expect(stderr).toContain(kind);
  });

  it('exits 2 for bad arguments without calling the broker', async () => {
    const provider = await cli(['token', 'get', 'toast', 'shop']);
    expect(provider.code).toBe(EXIT.usage);
    expect(provider.stderr).toContain(PROVIDER_IDS.join(', '));
    const limit = await cli(['connections', 'list', '--limit', '500']);
    expect(limit.code).toBe(EXIT.usage);
  });

  it('uses the API key npm start saved in .broker/api-key for a local broker', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cli-key-'));
    await mkdir(join(dir, '.broker'));
    await writeFile(join(dir, '.broker', 'api-key'), `${TEST_API_KEY}\n`);
    try {
      const ok = await cli(['connections', 'list', '--json'], {
        env: { BROKER_API_KEY: undefined, BROKER_DATA_DIR: join(dir, '.broker') },
      });
      expect(ok.code, ok.stderr).toBe(0);
      const missing = await cli(['connections', 'list'], { env: { BROKER_API_KEY: undefined } });
      expect(missing.code).toBe(EXIT.usage);
      expect(missing.stderr).toContain('BROKER_API_KEY');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('personal-token put on a terminal', () => {
  /** A stand-in terminal: stdin in raw mode that echoes nothing by itself. */
  function terminal() {
    const stdin = Object.assign(new PassThrough(), { isTTY: true, rawModes: [] as boolean[] });
    const tty = Object.assign(stdin, {
      setRawMode(mode: boolean) {
        stdin.rawModes.push(mode);
        return stdin;
      },
    });
    let out = '';
    let err = '';
    const io = {
      stdin: tty,
      stdout: { write: (text: string) => (out += text) },
      stderr: { write: (text: string) => (err += text) },
      env: { BROKER_URL: t.url, BROKER_API_KEY: TEST_API_KEY },
      cwd,
    };
    return { io, tty, output: () => out + err };
  }

  it('reads the token from a hidden prompt, handling backspace, and never echoes it', async () => {
    const { io, tty, output } = terminal();
    const done = run(['personal-token', 'put', 'xentral', 'tty-acme'], io);
    await new Promise((resolve) => setTimeout(resolve, 50));
    tty.write('tty-secret-tokenX\u007f-1234\r');
    expect(await done).toBe(EXIT.ok);
    expect(tty.rawModes).toEqual([true, false]);
    expect(output()).toContain('(input hidden)');
    expect(output()).not.toContain('tty-secret');
    expect((await t.json<TokenBody>('/tokens/xentral/tty-acme')).body.access_token).toBe(
      'tty-secret-token-1234',
    );
  });

  it('stores nothing when the prompt is cancelled with Ctrl-C', async () => {
    const { io, tty } = terminal();
    const done = run(['personal-token', 'put', 'xentral', 'tty-cancel'], io);
    await new Promise((resolve) => setTimeout(resolve, 50));
    tty.write('half-typed\u0003');
    expect(await done).toBe(EXIT.cancelled);
    expect((await t.json('/connections/xentral/tty-cancel')).status).toBe(404);
  });
});
