/**
 * The tokens function invoked directly (`lambda:InvokeFunction`, no API Gateway): the same request
 * and answer as `GET /tokens/{provider}/{account}`, checked side by side with the HTTP route of an
 * in-process local broker (demo mode) sharing the same services.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIRECT_INVOCATION_CALLER, directInvocation, tokenRoutes } from '../../../functions/handlers/tokens';
import { httpPipeline } from '../../../functions/http/pipeline';
import type { HttpResult } from '../../../functions/http/responses';
import { lambdaContext } from '../../../functions/local/server';
import { connect, recorder, startTestBroker, type TestBroker, type TokenBody } from '../../helpers/broker';

let t: TestBroker;
let handler: ReturnType<typeof httpPipeline>;
const audit = recorder();

beforeAll(async () => {
  t = await startTestBroker({}, { logger: audit.logger });
  handler = httpPipeline(t.broker.services, tokenRoutes(t.broker.services), {
    directInvocation: directInvocation(),
  });
  await connect(t, 'direct-store');
});
afterAll(() => t.close());

let invocation = 0;
const invoke = async (event: unknown) =>
  (await handler(event as never, lambdaContext(`direct-${++invocation}`, 'tokens'))) as HttpResult;
const body = <T = Record<string, unknown>>(result: HttpResult) => JSON.parse(String(result.body)) as T;

describe('direct invocation of the tokens function', () => {
  it('answers with the status, headers and body of GET /tokens/{provider}/{account}', async () => {
    const http = await t.json<TokenBody>('/tokens/lightspeed-x/direct-store');
    const direct = await invoke({ provider: 'lightspeed-x', account: 'direct-store' });
    expect(direct.statusCode).toBe(200);
    expect(direct.headers['content-type']).toBe(http.headers.get('content-type'));
    expect(direct.headers['cache-control']).toBe('no-store');
    expect(body(direct)).toEqual(http.body);
  });

  it('honours force_refresh and min_valid_seconds as the route does, booleans and numbers included', async () => {
    const before = body<TokenBody>(await invoke({ provider: 'lightspeed-x', account: 'direct-store' }));
    const refreshes = t.simulator.stats().refreshes;
    const forced = await invoke({
      provider: 'lightspeed-x',
      account: 'direct-store',
      force_refresh: true,
      min_valid_seconds: 120,
    });
    expect(forced.statusCode).toBe(200);
    expect(body<TokenBody>(forced).access_token).not.toBe(before.access_token);
    expect(t.simulator.stats().refreshes).toBe(refreshes + 1);
    const asStrings = await invoke({
      provider: 'lightspeed-x',
      account: 'direct-store',
      force_refresh: 'false',
    });
    expect(body<TokenBody>(asStrings).access_token).toBe(body<TokenBody>(forced).access_token);
  });

  it("answers an unknown connection with the route's 404", async () => {
    const http = await t.json('/tokens/lightspeed-x/nobody-here');
    const direct = await invoke({ provider: 'lightspeed-x', account: 'nobody-here' });
    expect(direct.statusCode).toBe(404);
    expect(body(direct)).toEqual(http.body);
  });

  it.each([
    [{ provider: 'lightspeed-x' }, 'event.account: is required'],
    [{ provider: 'lightspeed-x', account: 'direct-store', token: 'x' }, 'unknown field "token"'],
    [{ provider: 'lightspeed-x', account: 'Not A Label' }, 'path.account'],
    [{ provider: 'nope', account: 'direct-store' }, 'path.provider'],
    [{ provider: 'lightspeed-x', account: 'direct-store', min_valid_seconds: -1 }, 'query.min_valid_seconds'],
    [{ provider: 'lightspeed-x', account: 'direct-store', force_refresh: 'yes' }, 'query.force_refresh'],
    ['GET /tokens/lightspeed-x/direct-store', 'event'],
    [null, 'event'],
  ])('refuses %j with a 400 naming the field', async (event, field) => {
    const result = await invoke(event);
    expect(result.statusCode).toBe(400);
    expect(body(result)).toMatchObject({ error: 'invalid_request' });
    expect(String(body(result).message)).toContain(field);
  });

  it('records the direct caller in the audit line, never the token', async () => {
    audit.lines.length = 0;
    await invoke({ provider: 'lightspeed-x', account: 'direct-store' });
    const line = audit.lines.find((l) => l.message === 'token handed out');
    expect(line?.attributes).toMatchObject({
      caller: DIRECT_INVOCATION_CALLER,
      provider: 'lightspeed-x',
      account: 'direct-store',
    });
    expect(JSON.stringify(audit.lines)).not.toContain(
      body<TokenBody>(await invoke({ provider: 'lightspeed-x', account: 'direct-store' })).access_token,
    );
  });
});
