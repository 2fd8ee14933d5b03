/**
 * The provider profiles the OAuth simulator can play, and one factory for them:
 * `createProviderSimulator('shopify', options)`. Lightspeed X-Series keeps its own class
 * (LightspeedSimulator) with the same profile.
 */
import { OAuthSimulator, type OAuthSimulatorOptions } from '../oauth-simulator';
import type { SimulatorProfile } from '../profile';
import { cloverProfile } from './clover';
import { lightspeedRProfile } from './lightspeed-r';
import { type LightspeedXProfileOptions, lightspeedXProfile } from './lightspeed-x';
import { shopifyProfile, shopifySignedQuery } from './shopify';
import { type SquareProfileOptions, squareProfile } from './square';

export { type ConsentDecision, OAuthSimulator, type OAuthSimulatorOptions } from '../oauth-simulator';
export type { SimulatorProfile } from '../profile';
export { CLOVER_REGIONS } from './clover';
export { SHOPIFY_API_VERSION, shopifyHmac, shopifyHost, shopifySignedQuery } from './shopify';

/** The providers createProviderSimulator knows. */
export const PROVIDER_SIMULATORS = ['lightspeed-x', 'shopify', 'square', 'clover', 'lightspeed-r'] as const;
export type ProviderSimulatorId = (typeof PROVIDER_SIMULATORS)[number];

/** Options of createProviderSimulator: the engine's, plus those of the profiles that have any. */
export type ProviderSimulatorOptions = OAuthSimulatorOptions &
  LightspeedXProfileOptions &
  SquareProfileOptions;

/** The profile of a provider, built with its options. */
export function providerProfile(
  id: ProviderSimulatorId,
  options: ProviderSimulatorOptions = {} as never,
): SimulatorProfile {
  switch (id) {
    case 'lightspeed-x':
      return lightspeedXProfile(options);
    case 'shopify':
      return shopifyProfile();
    case 'square':
      return squareProfile(options);
    case 'clover':
      return cloverProfile();
    case 'lightspeed-r':
      return lightspeedRProfile();
  }
}

/** Shopify simulator, with the signed app-URL query Shopify opens an app with. */
export class ShopifySimulator extends OAuthSimulator {
  constructor(options: OAuthSimulatorOptions) {
    super(options, shopifyProfile());
  }

  /** The app URL as Shopify opens it from a shop's admin to start an install: `shop`, `host`, `timestamp`, `hmac`. */
  installUrl(appUrl: string, shop: string): string {
    const url = new URL(appUrl);
    for (const [name, value] of Object.entries(
      shopifySignedQuery(shop, this.options.clientSecret, this.now()),
    )) {
      url.searchParams.set(name, value);
    }
    return url.toString();
  }
}

/** A simulator for one provider; `shopify` gives a ShopifySimulator. */
export function createProviderSimulator(id: 'shopify', options: OAuthSimulatorOptions): ShopifySimulator;
export function createProviderSimulator(
  id: ProviderSimulatorId,
  options: ProviderSimulatorOptions,
): OAuthSimulator;
export function createProviderSimulator(
  id: ProviderSimulatorId,
  options: ProviderSimulatorOptions,
): OAuthSimulator {
  if (!PROVIDER_SIMULATORS.includes(id)) {
    throw new RangeError(
      `unknown provider simulator ${String(id)}; known: ${PROVIDER_SIMULATORS.join(', ')}`,
    );
  }
  if (id === 'shopify') return new ShopifySimulator(options);
  return new OAuthSimulator(options, providerProfile(id, options));
}
