/**
 * `npm start`: the whole broker on this machine. Prints where it is, the API key, a ready connect
 * link per OAuth provider and the exact commands to fetch the tokens afterwards; Ctrl-C stops it cleanly.
 */
import { KeyringFileError } from '../../shared/adapters/crypto/local-keyring';
import { ConfigError, ENV } from '../../shared/config';
import { PROVIDER_DEFINITIONS } from '../../shared/providers';
import { EmbeddedStoreError } from './dynamodb';
import { type LocalBroker, startLocalBroker } from './runtime';

/** One OAuth provider the banner offers to connect: its connect link (or why none) and an account. */
interface ConnectOffer {
  readonly id: string;
  readonly displayName: string;
  readonly needsAccount: boolean;
  /** The account the demo's consent page suggests, or the provider's example. */
  readonly account: string;
  readonly connectUrl: string | undefined;
}

function banner(broker: LocalBroker, offers: readonly ConnectOffer[]): string {
  const { url, apiKey, config } = broker;
  const auth = `-H "Authorization: Bearer ${apiKey}"`;
  const keyNote = {
    environment: `from ${ENV.apiKey}`,
    file: `saved in ${config.dataDir}/api-key`,
    generated: `generated and saved in ${config.dataDir}/api-key; set ${ENV.apiKey} to choose your own`,
  }[broker.apiKeySource];
  const clientIds = PROVIDER_DEFINITIONS.flatMap((definition) =>
    definition.oauth === undefined ? [] : [definition.oauth.env.clientId],
  );
  const lines = [
    '',
    `Token broker listening on ${url}`,
    broker.demo
      ? `Demo mode: no ${clientIds.join(', ')} is set, so built-in simulators stand in for ${offers.map((offer) => offer.displayName).join(', ')}.`
      : `OAuth apps: ${offers.map((offer) => `${offer.displayName} (register the redirect URI ${url}/oauth/${offer.id}/callback)`).join('; ') || 'none configured'}`,
    `API key: ${apiKey}  (${keyNote})`,
    `Storage: ${broker.embeddedDynamoDb ? `embedded DynamoDB in ${config.dataDir}/dynamodb` : `DynamoDB at ${broker.dynamodbEndpoint}`}, secrets in ${config.dataDir}/secrets.json`,
    '',
    '1. Connect a store: open a link in a browser (each connects one store, valid 10 minutes)',
  ];
  for (const offer of offers) {
    lines.push(
      `   ${offer.displayName}: ${offer.connectUrl ?? '(could not create a connect link; see the log above)'}`,
    );
  }
  const first = offers[0];
  if (first !== undefined) {
    const body = JSON.stringify({
      provider: first.id,
      ...(first.needsAccount ? { account: first.account } : {}),
    });
    lines.push(
      '   A new link (add "account" for a provider that needs it first, e.g. Shopify\'s shop):',
      `   curl -s -X POST ${url}/connect-sessions ${auth} -H "content-type: application/json" -d '${body}'`,
      '',
      '2. Fetch a token once the page says the store is connected:',
    );
    for (const offer of offers) {
      lines.push(`   curl -s ${url}/tokens/${offer.id}/${broker.demo ? offer.account : '<account>'} ${auth}`);
    }
  }
  if (broker.demo && broker.simulators['lightspeed-x'] !== undefined) {
    lines.push(
      '',
      "3. Use it against the simulator's API (here Lightspeed X-Series):",
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

/** A connect link for every OAuth provider this broker can connect (all of them in demo mode). */
async function connectOffers(broker: LocalBroker): Promise<ConnectOffer[]> {
  const offers: ConnectOffer[] = [];
  for (const definition of PROVIDER_DEFINITIONS) {
    const oauth = broker.services.providers[definition.id]?.oauth;
    if (oauth === undefined || broker.config.providers[definition.id]?.app?.clientId === undefined) continue;
    const account =
      broker.simulators[definition.id]?.profile.account.suggestion ?? definition.account.example;
    let connectUrl: string | undefined;
    try {
      // A provider that needs the account first gets the demo's (outside demo mode: none to guess).
      if (!oauth.accountBeforeAuthorization || broker.demo) {
        connectUrl = (
          await broker.services.connect.createSession({
            provider: definition.id,
            ...(oauth.accountBeforeAuthorization ? { account } : {}),
          })
        ).connectUrl;
      }
    } catch (error) {
      process.stderr.write(
        `Could not create a ${definition.displayName} connect link: ${(error as Error).message}\n`,
      );
    }
    offers.push({
      id: definition.id,
      displayName: definition.displayName,
      needsAccount: oauth.accountBeforeAuthorization,
      account,
      connectUrl,
    });
  }
  return offers;
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
  process.stdout.write(banner(broker, await connectOffers(broker)));

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
