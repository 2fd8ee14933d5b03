/** Names of secrets in the secret store, in one place for the domain, the adapters and the stack. */
import type { ConnectionKey } from './model';

/** The secret holding one account's personal token: `{prefix}personal/{provider}/{account}`. */
export const personalTokenSecretName = (prefix: string, key: ConnectionKey): string =>
  `${prefix}personal/${key.provider}/${key.account}`;
