/** The contract's credential precedence, the one rule the token route and the metadata routes share. */
import type { OAuthRecord, PersonalConnection } from './model';

/**
 * The credential that answers for an account: an active OAuth connection wins over a personal
 * token; the personal token answers when there is no active OAuth connection; a dead OAuth
 * connection answers (to say it is dead) only when there is no personal token. Each credential is
 * read only when the answer can depend on it: the personal token not at all behind an active OAuth
 * connection, the OAuth connection not at all when `readOAuth` is absent (a provider without an
 * OAuth flow).
 */
export async function effectiveCredential<O extends OAuthRecord>(
  readOAuth: (() => Promise<O | undefined>) | undefined,
  readPersonal: () => Promise<PersonalConnection | undefined>,
): Promise<O | PersonalConnection | undefined> {
  const oauth = readOAuth === undefined ? undefined : await readOAuth();
  if (oauth?.status === 'active') return oauth;
  return (await readPersonal()) ?? oauth;
}
