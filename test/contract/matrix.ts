/**
 * What the contract matrix needs to know of any OAuth provider, read from its definition and its
 * simulator rather than written per provider: an account in its syntax, and one API call.
 */
import type { OAuthSimulator } from '../../functions/local/simulator/profiles';
import type { Provider } from '../../shared/domain/ports';
import { createSession, openCallback, openConnectLink, type TestBroker } from '../helpers/broker';

export interface ConnectOptions {
  /** Added to the connect session's body. */
  readonly session?: Record<string, unknown>;
  /** The account the retailer picks on the consent page, if not the one connected. */
  readonly consentAs?: string;
}

/**
 * The whole connect flow as a browser walks it, for any provider: a connect session (with the
 * account where the provider needs it first), the link, the simulator's consent, the callback.
 */
export async function connectAccount(
  t: TestBroker,
  provider: Provider,
  simulator: OAuthSimulator,
  account: string,
  options: ConnectOptions = {},
) {
  const needsAccount = provider.oauth?.accountBeforeAuthorization === true;
  const { connect_url } = await createSession(t, {
    provider: provider.id,
    ...(needsAccount ? { account } : {}),
    ...options.session,
  });
  const authorization = await openConnectLink(connect_url);
  const callback = simulator.consent(authorization.location, { account: options.consentAs ?? account });
  const response = await openCallback(callback, authorization.cookie);
  await response.text();
  return { response, callback, cookie: authorization.cookie };
}

/**
 * The `n`th test account in the provider's syntax: the first of a few shapes that both the
 * provider's account rule and its simulator accept (DNS labels, opaque upper-case ids, digits).
 */
export function accountFor(provider: Provider, simulator: OAuthSimulator, n: number): string {
  const candidates = [`acct-${n}`, `ACCT${String(n).padStart(9, '0')}`, String(100_000 + n)];
  const account = candidates.find(
    (candidate) =>
      provider.account.pattern.test(candidate) && simulator.profile.account.pattern.test(candidate),
  );
  if (account === undefined) {
    throw new Error(`no test account shape fits ${provider.id} (${provider.account.syntax}); add one here`);
  }
  return account;
}

/**
 * The status of one authenticated call with `accessToken`: the provider's token check (its verify
 * request), or for a provider without one the call that names its account.
 */
export async function callsTheApi(provider: Provider, account: string, accessToken: string): Promise<number> {
  const request =
    provider.verifyRequest?.(account, accessToken) ?? provider.oauth?.accountLookup?.request(accessToken);
  if (request === undefined) throw new Error(`${provider.id} offers no API call to check a token with`);
  const response = await fetch(request.url, { method: request.method, headers: request.headers });
  await response.arrayBuffer();
  return response.status;
}
