/**
 * What the contract matrix needs to know of any OAuth provider, read from its definition and its
 * simulator rather than written per provider: an account in its syntax, and one API call.
 */
import type { OAuthSimulator } from '../../functions/local/simulator/profiles';
import type { Provider } from '../../shared/domain/ports';

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
