/**
 * What the help texts say about each provider, read from the provider registry so a new provider
 * shows up in `--help` without touching the CLI.
 */
import { PROVIDER_DEFINITIONS, type ProviderDefinition } from '../../shared/providers';
import type { Provider } from '../types';

export interface ProviderHelp {
  readonly id: Provider;
  readonly displayName: string;
  /** What the account is, e.g. "Shopify shop name (the label before .myshopify.com)". */
  readonly account: string;
  readonly example: string;
  /** It has an OAuth app, hence a connect flow. */
  readonly oauth: boolean;
  /** `POST /connect-sessions` needs the account (Shopify: the shop is the authorization's host). */
  readonly accountFirst: boolean;
  /** The provider accepts personal tokens (`PUT /personal-tokens` refuses the others). */
  readonly personalTokens: boolean;
}

/** The providers in registry order, as their definitions declare them. */
export const PROVIDER_HELP: readonly ProviderHelp[] = PROVIDER_DEFINITIONS.map(
  (definition: ProviderDefinition) =>
    Object.freeze({
      id: definition.id as Provider,
      displayName: definition.displayName,
      account: definition.account.description,
      example: definition.account.example,
      oauth: definition.oauth !== undefined,
      accountFirst: definition.oauth?.accountFirst === true,
      personalTokens: definition.personalTokens,
    }),
);

/** `a, b or c` (or `a, b and c`). */
export function listing(items: readonly string[], conjunction: 'or' | 'and' = 'or'): string {
  return items.length <= 1
    ? (items[0] ?? '')
    : `${items.slice(0, -1).join(', ')} ${conjunction} ${items.at(-1)}`;
}

/** One provider's account for help texts: `shopify: Shopify shop name (…), e.g. demo-shop`. */
export const accountOf = (p: ProviderHelp): string => `${p.id}: ${p.account}, e.g. ${p.example}`;

/** The account argument's help: each provider's account. */
export function accountHelp(providers: readonly ProviderHelp[] = PROVIDER_HELP): string {
  return `the account: ${providers.map(accountOf).join('; ')}`;
}
