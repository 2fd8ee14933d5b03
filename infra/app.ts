/**
 * CDK app entry (`npx cdk synth|deploy`): context → TokenBrokerStack, with cdk-nag on every synth.
 * Bundling uses the local esbuild from node_modules, never Docker, so synth works offline.
 */
import { App } from 'aws-cdk-lib';
import { PROVIDER_DEFINITIONS } from '../shared/providers';
import { enableComplianceChecks } from './compliance';
import { readBrokerContext } from './context';
import { TokenBrokerStack } from './stack';

const app = new App();
const { stackName, props } = readBrokerContext(app.node);
new TokenBrokerStack(app, stackName, {
  ...props,
  // Environment-agnostic unless the CLI knows the target account and region.
  ...(process.env.CDK_DEFAULT_ACCOUNT && process.env.CDK_DEFAULT_REGION
    ? { env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION } }
    : {}),
});
if (props.providers === undefined) {
  const keys = PROVIDER_DEFINITIONS.flatMap((definition) =>
    definition.oauth === undefined ? [] : [`${definition.oauth.context}ClientId`],
  );
  process.stderr.write(
    `token-broker: no client id in the context (${keys.join(', ')}): OAuth connect is not configured ` +
      `(personal tokens work). Deploy with -c ${keys[0]}=... (one per provider) to enable it.\n`,
  );
}
const compliance = enableComplianceChecks(app);
// Synthesis throws (and the CLI fails) on any unacknowledged cdk-nag finding.
app.synth();
process.stderr.write(`cdk-nag ${compliance.summary().join('; ')}\n`);
