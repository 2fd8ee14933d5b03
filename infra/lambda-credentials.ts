/**
 * The credential provider the Lambda bundles get in place of the AWS SDK's default chain:
 * `LAMBDA_BUNDLING` (infra/bundling.ts) aliases `@aws-sdk/credential-provider-node` to this module,
 * so every client's `credentialDefaultProvider` is the SDK's own environment provider.
 *
 * The Lambda runtime hands a function its execution role's credentials in AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, which is where the default chain would find them first
 * too; its other sources (SSO, profiles, STS web identity, container and instance metadata) bring the
 * STS and SSO clients into every bundle, about 130 KB that a function never runs. The local runtime
 * and the tests are not bundled and keep the default chain.
 */
export { fromEnv as defaultProvider } from '@aws-sdk/credential-providers';
