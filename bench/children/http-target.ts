/**
 * Child process: one HTTP target of the throughput comparison, on the run's dynalite.
 * - `broker`: the local runtime (startLocalBroker, DYNAMODB_ENDPOINT = the run's dynalite, an OAuth
 *   app configured so no demo simulator is mounted), serving GET /tokens/{provider}/{account} with a
 *   valid token in the store; logs at INFO as deployed (stdout is dropped by the parent).
 * - `bare`: a node:http server that does the same GetItem (consistent) and returns the item as JSON.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { startLocalBroker } from '../../functions/local/runtime';
import { benchTempDir, serveParent } from '../lib/child';
import { BENCH_API_KEY, FETCH_KEY, localClients, openStore, seedValidToken } from '../lib/runtime';

const endpoint = process.env.BENCH_DYNAMODB_ENDPOINT ?? '';
const target = process.env.BENCH_TARGET;
// One table per target: each seeds the item under its own keyring.
const table = `bench-http-${target}`;
const path = `/tokens/${FETCH_KEY.provider}/${FETCH_KEY.account}`;
const dataDir = await benchTempDir('http-');

// The token the broker hands out, sealed under the keyring the local runtime opens in its data dir.
const { client, documents } = localClients(endpoint);
const { store } = await openStore(client, documents, table, dataDir);
await seedValidToken(store);

let url: string;
if (target === 'broker') {
  const broker = await startLocalBroker({
    env: {
      PORT: '0',
      BROKER_API_KEY: BENCH_API_KEY,
      BROKER_DATA_DIR: dataDir,
      BROKER_TABLE_NAME: table,
      DYNAMODB_ENDPOINT: endpoint,
      SWEEP_INTERVAL_SECONDS: '86400',
      POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'INFO',
      // Configured as an operator runs it, not in demo mode: no simulator routes in front of the API.
      // The fetch never calls the provider (the stored token is valid for 24 h).
      LIGHTSPEED_X_CLIENT_ID: 'bench-client-id',
      LIGHTSPEED_X_CLIENT_SECRET: 'bench-client-secret',
    },
  });
  url = `${broker.url.replace('localhost', '127.0.0.1')}${path}`;
} else if (target === 'bare') {
  const key = { pk: `conn#${FETCH_KEY.provider}#${FETCH_KEY.account}`, sk: 'oauth' };
  const server = createServer((req, res) => {
    documents.send(new GetCommand({ TableName: table, Key: key, ConsistentRead: true })).then(
      (result) => {
        res.writeHead(result.Item === undefined ? 404 : 200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(result.Item ?? { error: 'not_found' }));
      },
      () => {
        res.writeHead(500);
        res.end();
      },
    );
    req.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
} else throw new Error(`BENCH_TARGET must be broker or bare, got ${target}`);

serveParent({ url }, { cpu: () => process.cpuUsage() });
