/**
 * The contract matrix's restart: in demo mode every simulator keeps what it issued across a restart of
 * the local runtime (`.broker/simulator.json`), as the real providers would, so a store connected
 * before it still fetches and refreshes after it, for every OAuth provider of the registry.
 */
import { expect, it } from 'vitest';
import { PROVIDER_DEFINITIONS } from '../../shared/providers';
import { startTestBroker, type TestBroker, type TokenBody } from '../helpers/broker';
import { accountFor, callsTheApi, connectAccount } from './matrix';

const OAUTH_PROVIDERS = PROVIDER_DEFINITIONS.filter((definition) => definition.oauth !== undefined).map(
  (definition) => definition.id,
);

it('keeps every provider’s connections refreshing across a restart of the demo', async () => {
  const first = await startTestBroker();
  const accounts: Record<string, string> = {};
  const before: Record<string, string> = {};
  let second: TestBroker | undefined;
  let firstClosed = false;
  try {
    for (const id of OAUTH_PROVIDERS) {
      const simulator = first.broker.simulators[id];
      if (simulator === undefined) throw new Error(`no simulator for ${id}`);
      const provider = first.broker.services.providers[id];
      const account = accountFor(provider, simulator, 1);
      accounts[id] = account;
      expect((await connectAccount(first, provider, simulator, account)).response.status, id).toBe(200);
      before[id] = (await first.json<TokenBody>(`/tokens/${id}/${account}`)).body.access_token;
    }
    await first.close({ keepData: true });
    firstClosed = true;

    second = await startTestBroker({}, { dataDir: first.dataDir });
    for (const id of OAUTH_PROVIDERS) {
      const account = accounts[id]!;
      const provider = second.broker.services.providers[id];
      const kept = await second.json<TokenBody>(`/tokens/${id}/${account}`);
      expect(kept.status, id).toBe(200);
      expect(kept.body.access_token, id).toBe(before[id]);
      expect(await callsTheApi(provider, account, kept.body.access_token), id).toBe(200);
      const refreshed = await second.json<TokenBody>(`/tokens/${id}/${account}?force_refresh=true`);
      expect(refreshed.status, id).toBe(200);
      expect(refreshed.body.access_token, id).not.toBe(before[id]);
      expect(second.broker.simulators[id]?.stats(), id).toMatchObject({ refreshes: 1, invalidGrants: 0 });
    }
  } finally {
    if (!firstClosed) await first.close();
    await second?.close();
  }
}, 60_000);
