/**
 * Built-in provider simulators for Lightspeed Retail X-Series (OAuth, provider id `lightspeed-x`) and
 * Xentral (personal access tokens). They reproduce the documented behaviour in
 * docs/providers.md closely enough that the broker can be exercised without the real
 * services: in demo mode (mounted on the local runtime's own server) and in integration tests
 * (standalone, with fault injection and statistics).
 *
 * Nothing here logs: requests carry client secrets, codes and tokens.
 */
export {
  type Fault,
  type FaultGrant,
  type FaultOptions,
  parseFault,
  UNUSABLE_VARIANTS,
  type UnusableVariant,
} from './faults';
export { LightspeedSimulator, type SimulatorOptions } from './lightspeed-x';
export { DOMAIN_PREFIX_PATTERN } from './random';
export type { OAuthSimulatorState } from './state';
export type { AccountStats, SimulatorStats } from './stats';
export { XentralSimulator, type XentralSimulatorOptions } from './xentral';
