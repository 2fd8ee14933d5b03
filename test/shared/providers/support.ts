/**
 * What the provider unit tests share: a fixed receipt time, a state, recorded-shape responses and
 * the configured adapter of a definition. Values that differ per provider (client ids, accounts,
 * answers) stay in each provider's test file.
 */
import { loadConfig } from '../../../shared/config';
import { ProviderError } from '../../../shared/domain/errors';
import type { OAuthBehaviour, ProviderBehaviour, ProviderResponse } from '../../../shared/domain/ports';
import type { ProviderDefinition } from '../../../shared/providers/definition';

// A whole second, so HTTP dates (second precision) and epoch-second expiries round-trip exactly.
export const RECEIVED_AT = Date.parse('2026-05-01T08:00:00Z');
export const STATE = 'Zk3q9T1mXc0vB7nLpW2sR8yH4dJ6aF5eGuK';

/** A provider's answer as the HTTP port hands it over; a non-string body is sent as JSON. */
export function response(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
  receivedAt = RECEIVED_AT,
): ProviderResponse {
  return {
    status,
    headers: new Headers(headers),
    body: typeof body === 'string' ? body : JSON.stringify(body),
    receivedAt,
  };
}

/** The ProviderError `run` throws; fails the test when it throws something else or nothing. */
export function failureOf(run: () => unknown): ProviderError {
  try {
    run();
  } catch (error) {
    if (error instanceof ProviderError) return error;
    throw new Error(`expected a ProviderError, got ${String(error)}`);
  }
  throw new Error('expected a ProviderError, nothing was thrown');
}

/** The provider `definition` creates from the configuration read from `env`. */
export function behaviourOf(
  definition: ProviderDefinition,
  env: Record<string, string> = {},
): ProviderBehaviour {
  const config = loadConfig(env).providers[definition.id];
  if (config === undefined) throw new Error(`the configuration has no part for ${definition.id}`);
  return definition.create(config);
}

/** The OAuth adapter of the provider `definition` creates from `env`; fails for one without OAuth. */
export function oauthOf(definition: ProviderDefinition, env: Record<string, string> = {}): OAuthBehaviour {
  const oauth = behaviourOf(definition, env).oauth;
  if (oauth === undefined) throw new Error(`${definition.id} must support OAuth`);
  return oauth;
}

/** The fields of a form-encoded request body. */
export const formFields = (body: string | undefined): Record<string, string> =>
  Object.fromEntries(new URLSearchParams(body ?? ''));
