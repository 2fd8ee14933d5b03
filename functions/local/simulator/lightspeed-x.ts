/**
 * Lightspeed Retail X-Series simulator (provider id `lightspeed-x`): the OAuth simulator engine run
 * with the X-Series profile (profiles/lightspeed-x.ts), under the name and options it has always had.
 */
import { OAuthSimulator, type OAuthSimulatorOptions } from './oauth-simulator';
import { type LightspeedXProfileOptions, lightspeedXProfile } from './profiles/lightspeed-x';

/** Options of the Lightspeed simulator. */
export interface SimulatorOptions extends OAuthSimulatorOptions, LightspeedXProfileOptions {
  /**
   * Token-endpoint calls allowed per retailer (and app) in each 5-minute window; beyond it, 429 with
   * an HTTP-date Retry-After. providers.md says only that the token endpoint has "its own, smaller
   * limit" than the API's: the number is an assumption, so the default is no limit.
   */
  tokenRateLimit?: number;
}

/** The URLs the broker's lightspeed-x settings take; templates keep `{domain_prefix}`. */
export type LightspeedUrls = {
  authorizeUrl: string;
  tokenUrl: string;
  apiBaseUrl: string;
};

/** Lightspeed Retail X-Series simulator (provider id lightspeed-x). */
export class LightspeedSimulator extends OAuthSimulator {
  constructor(options: SimulatorOptions) {
    super(options, lightspeedXProfile(options));
  }

  /** URLs to configure the broker with, for a given origin (http://host:port). Templates keep `{domain_prefix}`. */
  override urls(origin: string): LightspeedUrls {
    return super.urls(origin) as LightspeedUrls;
  }
}
