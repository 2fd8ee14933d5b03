/**
 * The broker's client for SaaS backends: `new TokenBrokerClient({ url, auth })`, then
 * `await client.getToken('lightspeed-x', account)` before each provider request.
 */
export { type TokenBrokerAuth, TokenBrokerClient, type TokenBrokerClientOptions } from './client';
export {
  BrokerRequestError,
  NotFoundError,
  ProviderUnavailableError,
  ReauthorizationRequiredError,
  TokenBrokerError,
  type TokenBrokerErrorCode,
  TokenExpiredError,
} from './errors';
export { type AwsCredentials, type AwsCredentialsProvider, type SigV4Options, SigV4Signer } from './sigv4';
export * from './types';
