/**
 * One body limit and one message for both runtimes: the local server stops reading an oversized
 * body early, but the answer is the one dispatch gives on Lambda (16 KiB, `body: …`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_BODY_BYTES } from '../../../functions/http/middleware';
import { startTestBroker, TEST_API_KEY, type TestBroker } from '../../helpers/broker';

let t: TestBroker;

beforeAll(async () => {
  t = await startTestBroker();
});
afterAll(() => t.close());

const post = (bytes: number) =>
  fetch(`${t.url}/connect-sessions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' },
    body: 'x'.repeat(bytes),
  });

describe('the local runtime body limit', () => {
  it.each([
    ['just over the limit', MAX_BODY_BYTES + 1],
    ['over the limit the local server used to read up to (64 KiB)', 100 * 1024],
  ])('answers a body %s with the same 400 naming body and the 16 KiB limit', async (_, bytes) => {
    const response = await post(bytes);
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      error: 'invalid_request',
      message: `body: must be at most ${MAX_BODY_BYTES} bytes`,
    });
    expect(MAX_BODY_BYTES).toBe(16 * 1024);
  });

  it('still serves a body at the limit (refused by the route for its content, not its size)', async () => {
    const response = await post(MAX_BODY_BYTES);
    expect(response.status).toBe(400);
    const body = (await response.json()) as { message: string };
    expect(body.message).not.toContain('must be at most');
  });
});
