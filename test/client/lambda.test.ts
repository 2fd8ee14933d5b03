/**
 * TokenBrokerClient with the Lambda transport: `getToken` invokes the tokens function. The Lambda
 * client is mocked (aws-sdk-client-mock) and hands each Invoke to the real tokens handler over an
 * in-process local broker, so the client meets the function's real answers.
 */

import { PassThrough } from 'node:stream';
import { InvokeCommand, type InvokeCommandOutput, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  BrokerRequestError,
  NotFoundError,
  ProviderUnavailableError,
  ReauthorizationRequiredError,
  TokenBrokerClient,
} from '../../client';
import { EXIT, run } from '../../client/cli';
import { directInvocation, tokenRoutes } from '../../functions/handlers/tokens';
import { httpPipeline } from '../../functions/http/pipeline';
import { lambdaContext } from '../../functions/local/server';
import { connect, startTestBroker, TEST_API_KEY, type TestBroker } from '../helpers/broker';

const FUNCTION = 'TokenBroker-TokensFunction-ABC';
const lambda = mockClient(LambdaClient);
let t: TestBroker;
const payloads: unknown[] = [];
let handler: ReturnType<typeof httpPipeline>;

/** Every Invoke of FUNCTION goes to the real tokens handler (mockClient answers any other call with undefined). */
function invokeTheHandler() {
  lambda
    .on(InvokeCommand, { FunctionName: FUNCTION })
    .callsFake(async (input: { Payload?: Uint8Array | string }) => {
      const event = JSON.parse(
        typeof input.Payload === 'string' ? input.Payload : new TextDecoder().decode(input.Payload),
      );
      payloads.push(event);
      const result = await handler(event, lambdaContext(`invoke-${payloads.length}`, 'tokens'));
      return {
        StatusCode: 200,
        ExecutedVersion: '$LATEST',
        Payload: new TextEncoder().encode(JSON.stringify(result)),
      };
    });
}

beforeAll(async () => {
  t = await startTestBroker();
  handler = httpPipeline(t.broker.services, tokenRoutes(t.broker.services), {
    directInvocation: directInvocation(),
  });
  invokeTheHandler();
  await connect(t, 'lambda-store');
});
afterAll(async () => {
  lambda.restore();
  await t.close();
});
afterEach(() => {
  t.simulator.clearFaults();
  payloads.length = 0;
});

/** A response payload as the SDK hands it over (its blob adapter is a Uint8Array with helpers). */
const payload = (text: string) => new TextEncoder().encode(text) as unknown as InvokeCommandOutput['Payload'];

const direct = () => new TokenBrokerClient({ lambda: { functionName: FUNCTION, region: 'eu-west-1' } });

describe('getToken over direct invocation', () => {
  it('gets the token the HTTP route gives, in one Invoke per connection however many ask', async () => {
    const client = direct();
    const http = await t.json<{ access_token: string }>('/tokens/lightspeed-x/lambda-store');
    const tokens = await Promise.all(
      Array.from({ length: 20 }, () => client.getToken('lightspeed-x', 'lambda-store')),
    );
    expect(new Set(tokens.map((token) => token.access_token))).toEqual(new Set([http.body.access_token]));
    expect(payloads).toEqual([{ provider: 'lightspeed-x', account: 'lambda-store' }]);
    expect(lambda.commandCalls(InvokeCommand)).not.toHaveLength(0);
  });

  it('sends min_valid_seconds and force_refresh as fields of the event', async () => {
    const before = await direct().getToken('lightspeed-x', 'lambda-store');
    const forced = await direct().getToken('lightspeed-x', 'lambda-store', {
      forceRefresh: true,
      minValidSeconds: 90,
    });
    expect(payloads.at(-1)).toEqual({
      provider: 'lightspeed-x',
      account: 'lambda-store',
      min_valid_seconds: 90,
      force_refresh: true,
    });
    expect(forced.access_token).not.toBe(before.access_token);
  });

  it('throws the typed errors of the HTTP route', async () => {
    await expect(direct().getToken('lightspeed-x', 'nobody-here')).rejects.toBeInstanceOf(NotFoundError);
    t.simulator.injectFault({ kind: 'status', status: 503, times: 10 });
    const unavailable = await direct()
      .getToken('lightspeed-x', 'lambda-store', { forceRefresh: true })
      .catch((error: unknown) => error);
    expect(unavailable).toBeInstanceOf(ProviderUnavailableError);
    expect((unavailable as ProviderUnavailableError).retryAfterSeconds).toBeGreaterThan(0);
    t.simulator.clearFaults();
    await connect(t, 'lambda-dead');
    t.simulator.injectFault({ kind: 'invalid_grant' });
    await expect(
      direct().getToken('lightspeed-x', 'lambda-dead', { forceRefresh: true }),
    ).rejects.toBeInstanceOf(ReauthorizationRequiredError);
  });

  it('reports a failed function or a refused Invoke without a token in the message', async () => {
    try {
      lambda.on(InvokeCommand).resolves({
        StatusCode: 200,
        FunctionError: 'Unhandled',
        Payload: payload('{"errorType":"Error","errorMessage":"boom"}'),
      });
      await expect(direct().getToken('lightspeed-x', 'lambda-store')).rejects.toMatchObject({
        code: 'internal_error',
        status: 500,
      });
      lambda.on(InvokeCommand).rejects(
        Object.assign(new Error('User is not authorized to perform: lambda:InvokeFunction'), {
          name: 'AccessDeniedException',
          $metadata: { httpStatusCode: 403 },
        }),
      );
      const refused = await direct()
        .getToken('lightspeed-x', 'lambda-store')
        .catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(BrokerRequestError);
      expect(refused).toMatchObject({ code: 'forbidden', status: 403 });
      lambda.on(InvokeCommand).resolves({ StatusCode: 200, Payload: payload('"not a response"') });
      await expect(direct().getToken('lightspeed-x', 'lambda-store')).rejects.toMatchObject({
        code: 'invalid_response',
      });
    } finally {
      lambda.reset();
      invokeTheHandler();
    }
  });

  it('keeps the management methods on HTTP and says so when only lambda is given', async () => {
    await expect(direct().listConnections()).rejects.toThrow(/pass url and auth/);
    const both = new TokenBrokerClient({
      url: t.url,
      auth: { apiKey: TEST_API_KEY },
      lambda: { functionName: FUNCTION, region: 'eu-west-1' },
    });
    expect((await both.listConnections()).connections.length).toBeGreaterThan(0);
    expect(() => new TokenBrokerClient({ url: t.url, lambda: { functionName: FUNCTION } })).toThrow(
      /together/,
    );
    expect(() => new TokenBrokerClient({ lambda: { functionName: ' ' } })).toThrow(/functionName/);
  });
});

describe('token-broker token get --lambda', () => {
  /** The CLI in-process (the Lambda client is mocked in this process), with captured output. */
  const cli = async (args: string[]) => {
    let stdout = '';
    let stderr = '';
    const code = await run(args, {
      stdin: new PassThrough(),
      stdout: { write: (text: string) => (stdout += text) },
      stderr: { write: (text: string) => (stderr += text) },
      env: { PATH: process.env.PATH },
      cwd: process.cwd(),
    });
    return { code, stdout, stderr };
  };

  it('prints the token the tokens function hands out', async () => {
    const http = await t.json<{ access_token: string }>('/tokens/lightspeed-x/lambda-store');
    const result = await cli([
      'token',
      'get',
      'lightspeed-x',
      'lambda-store',
      '--lambda',
      FUNCTION,
      '--region',
      'eu-west-1',
      '--token-only',
    ]);
    expect(result).toMatchObject({ code: EXIT.ok, stdout: `${http.body.access_token}\n` });
    expect(payloads.at(-1)).toEqual({ provider: 'lightspeed-x', account: 'lambda-store' });
  });

  it('refuses --lambda for the other commands and together with --url', async () => {
    const list = await cli(['connections', 'list', '--lambda', FUNCTION]);
    expect(list.code).toBe(EXIT.usage);
    expect(list.stderr).toContain('--lambda serves token get only');
    const both = await cli(['token', 'get', 'lightspeed-x', 'a', '--lambda', FUNCTION, '--url', t.url]);
    expect(both.code).toBe(EXIT.usage);
    expect(both.stderr).toContain('one way to reach the broker');
  });
});
