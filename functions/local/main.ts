/**
 * `npm start`: the whole broker on this machine. Prints where it is, the API key, a ready connect
 * link and the exact commands to fetch the token afterwards; Ctrl-C stops it cleanly.
 */
import { KeyringFileError } from '../../shared/adapters/crypto/local-keyring';
import { ConfigError, ENV } from '../../shared/config';
import { lightspeedX } from '../../shared/providers/lightspeed-x';
import { EmbeddedStoreError } from './dynamodb';
import { type LocalBroker, startLocalBroker } from './runtime';

function banner(broker: LocalBroker, connectUrl: string | undefined): string {
  const { url, apiKey, config } = broker;
  const auth = `-H "Authorization: Bearer ${apiKey}"`;
  const account = broker.demo ? 'demo-store' : '<domain_prefix>';
  const keyNote = {
    environment: `from ${ENV.apiKey}`,
    file: `saved in ${config.dataDir}/api-key`,
    generated: `generated and saved in ${config.dataDir}/api-key; set ${ENV.apiKey} to choose your own`,
  }[broker.apiKeySource];
  const lines = [
    '',
    `Token broker listening on ${url}`,
    broker.demo
      ? `Demo mode: ${lightspeedX.oauth.env.clientId} is not set, so a built-in Lightspeed X-Series simulator stands in for the real service.`
      : `Lightspeed X-Series app ${config.providers[lightspeedX.id]?.app?.clientId}; register this redirect URI: ${url}/oauth/lightspeed-x/callback`,
    `API key: ${apiKey}  (${keyNote})`,
    `Storage: ${broker.embeddedDynamoDb ? `embedded DynamoDB in ${config.dataDir}/dynamodb` : `DynamoDB at ${broker.dynamodbEndpoint}`}, secrets in ${config.dataDir}/secrets.json`,
    '',
    '1. Connect a store: open this link in a browser (connects one store, valid 10 minutes)',
    `   ${connectUrl ?? '(could not create a connect link; see the log above)'}`,
    '   A new link:',
    `   curl -s -X POST ${url}/connect-sessions ${auth} -H "content-type: application/json" -d '{"provider":"lightspeed-x"}'`,
    '',
    '2. Fetch the token once the page says the store is connected:',
    `   curl -s ${url}/tokens/lightspeed-x/${account} ${auth}`,
  ];
  if (broker.demo) {
    lines.push(
      '',
      "3. Use it against the simulator's API:",
      `   TOKEN=$(curl -s ${url}/tokens/lightspeed-x/demo-store ${auth} | node -pe 'JSON.parse(require("fs").readFileSync(0,"utf8")).access_token')`,
      `   curl -s ${url}/_sim/lightspeed-x/demo-store/api/2.0/outlets -H "Authorization: Bearer $TOKEN"`,
    );
  }
  lines.push(
    '',
    `The sweep runs every ${config.sweepIntervalSeconds} s and refreshes tokens expiring within ${config.refreshMarginSeconds} s. Run one now:`,
    `   curl -s -X POST ${url}/_local/sweep ${auth}`,
    '',
    'Logs follow as JSON lines. Press Ctrl-C to stop.',
    '',
  );
  return lines.join('\n');
}

async function main(): Promise<void> {
  let broker: LocalBroker;
  try {
    broker = await startLocalBroker();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`Configuration error: ${error.message}\n`);
      process.exit(2);
    }
    // Damaged local data: the message says which file and what to do; a stack would add nothing.
    if (error instanceof KeyringFileError || error instanceof EmbeddedStoreError) {
      process.stderr.write(`The broker could not start: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  let connectUrl: string | undefined;
  try {
    connectUrl = (await broker.services.connect.createSession({ provider: 'lightspeed-x' })).connectUrl;
  } catch (error) {
    process.stderr.write(`Could not create a connect link: ${(error as Error).message}\n`);
  }
  process.stdout.write(banner(broker, connectUrl));

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n${signal}: stopping the broker…\n`);
    broker.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`error while stopping: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error: unknown) => {
  process.stderr.write(
    `The broker could not start: ${error instanceof Error ? error.stack : String(error)}\n`,
  );
  process.exit(1);
});
