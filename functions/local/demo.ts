/**
 * Demo mode's providers: which OAuth providers the built-in simulators play, and the broker settings
 * that point each provider at its simulator. The simulator names its URLs after the provider's own
 * (functions/local/simulator/profiles); this table maps them onto the definition's settings, filling
 * what a deployment would configure (Clover's region).
 */
import type { ProviderSimulatorId } from './simulator/profiles';

type Urls = Readonly<Record<string, string>>;

/** The region the demo's Clover app is registered in (`na`, `eu`, `la` or `sandbox` in the simulator). */
const DEMO_CLOVER_REGION = 'na';

const need = (urls: Urls, name: string): string => {
  const url = urls[name];
  if (url === undefined) throw new Error(`the simulator offers no ${name}`);
  return url;
};

/** The three settings most providers have, named as the simulator names them. */
const sameNames = (urls: Urls): Record<string, string> => ({
  authorizeUrl: need(urls, 'authorizeUrl'),
  tokenUrl: need(urls, 'tokenUrl'),
  apiBaseUrl: need(urls, 'apiBaseUrl'),
});

/** The broker settings of each simulated provider, from its simulator's `urls(origin)`. */
export const DEMO_SETTINGS: Readonly<Record<ProviderSimulatorId, (urls: Urls) => Record<string, string>>> =
  Object.freeze({
    'lightspeed-x': sameNames,
    shopify: sameNames,
    square: sameNames,
    clover: (urls) => {
      const region = (name: string) => need(urls, name).replaceAll('{region}', DEMO_CLOVER_REGION);
      return {
        authorizeUrl: region('authorizeUrl'),
        tokenUrl: region('tokenUrl'),
        refreshUrl: region('refreshUrl'),
        apiBaseUrl: `${region('apiBaseUrl')}/v3/merchants/{merchant_id}`,
      };
    },
    'lightspeed-r': (urls) => ({
      authorizeUrl: need(urls, 'authorizeUrl'),
      tokenUrl: need(urls, 'tokenUrl'),
      accountUrl: need(urls, 'verifyUrl'),
      apiBaseUrl: `${need(urls, 'apiBaseUrl')}/Account/{account}`,
    }),
  });

/** Whether the demo simulates this provider. */
export const isDemoProvider = (id: string): id is ProviderSimulatorId => Object.hasOwn(DEMO_SETTINGS, id);
