/**
 * The provider registry: every provider the broker serves, one definition each. Config, both
 * runtimes, the CDK construct, the CLI, the typed client and OpenAPI read this list; a new provider
 * is a file beside this one plus one entry below. This module and the definitions import no
 * library, so the client and the CLI can take the ids from here.
 */
import type { BrokerConfig } from '../config';
import type { Provider, ProviderRegistry } from '../domain/ports';
import { clover } from './clover';
import type { ProviderDefinition } from './definition';
import { lightspeedR } from './lightspeed-r';
import { lightspeedX } from './lightspeed-x';
import { shopify } from './shopify';
import { square } from './square';
import { xentral } from './xentral';

/** The built-in providers, in the order listings and help texts show them. */
export const PROVIDER_DEFINITIONS = [lightspeedX, shopify, square, clover, lightspeedR, xentral] as const;

export type BuiltInDefinition = (typeof PROVIDER_DEFINITIONS)[number];
export type ProviderId = BuiltInDefinition['id'];
export const PROVIDER_IDS: readonly [ProviderId, ...ProviderId[]] = [
  PROVIDER_DEFINITIONS[0].id,
  ...PROVIDER_DEFINITIONS.slice(1).map((definition) => definition.id),
];
/** The built-in providers that need an OAuth app (client id and secret). */
export type OAuthProviderId = Extract<BuiltInDefinition, { readonly oauth: object }>['id'];

/** A runtime's provider list: the built-ins, or a test's list with providers of its own. */
export type ProviderDefinitions = readonly ProviderDefinition[];

/** The definition of `id` in `definitions` (the built-ins by default); throws for an unknown id. */
export function providerDefinition(
  id: string,
  definitions: ProviderDefinitions = PROVIDER_DEFINITIONS,
): ProviderDefinition {
  const definition = definitions.find((candidate) => candidate.id === id);
  if (definition === undefined) throw new Error(`no provider ${id} is defined`);
  return definition;
}

/** Builds the registry of configured providers (`config.providers` was read for `definitions`). */
export function createProviders(
  config: BrokerConfig,
  definitions: ProviderDefinitions = PROVIDER_DEFINITIONS,
): ProviderRegistry {
  const providers: Record<string, Provider> = {};
  for (const definition of definitions) {
    const settings = config.providers[definition.id];
    if (settings === undefined) throw new Error(`the configuration has no part for ${definition.id}`);
    const { id, displayName, account } = definition;
    const behaviour = definition.create(settings);
    if ((behaviour.verifyRequest !== undefined) !== definition.personalTokens) {
      throw new Error(`${id}: personalTokens says ${definition.personalTokens}, but create() disagrees`);
    }
    const { oauth, ...rest } = behaviour;
    providers[id] = {
      ...rest,
      ...(oauth === undefined
        ? {}
        : {
            oauth: {
              ...oauth,
              accountBeforeAuthorization: definition.oauth?.accountFirst === true,
              startsInstalls: definition.oauth?.startsInstalls === true,
            },
          }),
      id: id as ProviderId,
      displayName,
      account: { pattern: account.pattern, syntax: account.syntax },
    };
  }
  // Providers a runtime adds (tests) are served like the built-ins; the static type names only those.
  return Object.freeze(providers) as ProviderRegistry;
}

export type {
  OAuthAdapter,
  OAuthBehaviour,
  Provider,
  ProviderBehaviour,
  ProviderRegistry,
  ProviderRequest,
  ProviderResponse,
} from '../domain/ports';
export type { OAuthAppConfig, ProviderConfig, ProviderDefinition } from './definition';
