/** The provider registry: every provider the broker serves, built from the configuration. */

import type { BrokerConfig } from '../config';
import type { ProviderRegistry } from '../domain/ports';
import { lightspeedProvider } from './lightspeed-x';
import { xentralProvider } from './xentral';

/** Builds the registry of providers for a configuration. */
export function createProviders(config: BrokerConfig): ProviderRegistry {
  return Object.freeze({
    'lightspeed-x': lightspeedProvider(config.lightspeed),
    xentral: xentralProvider(config.xentralApiBaseUrl),
  });
}
