/** The simulators' check of an authorize request, from the URL or the consent form's echo. */
import { withParams } from '../../http/url';

export interface AuthorizeRequest {
  clientId: string;
  redirectUri: string;
  state: string;
  scope: string;
  /** PKCE S256 challenge, when the client sent one (Lightspeed does not support PKCE; tests do). */
  codeChallenge?: string;
}

/** Refused before any redirect (error), answered at once with access_denied (denied), or shown for consent. */
export type AuthorizeCheck =
  | { kind: 'error'; message: string }
  | { kind: 'denied'; location: string }
  | { kind: 'ok'; request: AuthorizeRequest };

/** The registered application the request must name. */
export interface RegisteredApp {
  clientId: string;
  redirectUris: string[];
}

/** How a provider's authorize endpoint differs from the X-Series one (the defaults). */
export interface AuthorizeRules {
  /** Whether `response_type=code` must be sent (Square and Shopify do not ask for it). Default true. */
  requireResponseType?: boolean;
  /** Whether redirect_uri may be left out, the first registered one then being used (Square). Default false. */
  redirectUriOptional?: boolean;
  /**
   * `required`: none asked for is answered with access_denied (X-Series); `default`: the given
   * default scope is used (Square); `none`: the app's permissions are set in its settings (Clover).
   */
  scope?: { mode: 'required' } | { mode: 'default'; value: string } | { mode: 'none' };
  /** How scopes are separated in the request, default white space (Shopify uses commas). */
  scopeSeparator?: RegExp;
}

const AUTHORIZE_PARAMS = [
  'response_type',
  'client_id',
  'redirect_uri',
  'state',
  'scope',
  'code_challenge',
  'code_challenge_method',
] as const;

export function checkAuthorize(
  params: URLSearchParams,
  app: RegisteredApp,
  rules: AuthorizeRules = {},
): AuthorizeCheck {
  for (const name of AUTHORIZE_PARAMS) {
    if (params.getAll(name).length > 1) return { kind: 'error', message: `${name} must be given once` };
  }
  const clientId = params.get('client_id');
  if (clientId === null || clientId !== app.clientId) {
    return { kind: 'error', message: 'Unknown client_id: no such application' };
  }
  const given = params.get('redirect_uri');
  const redirectUri = given === null && rules.redirectUriOptional === true ? app.redirectUris[0] : given;
  if (redirectUri === null || redirectUri === undefined || !app.redirectUris.includes(redirectUri)) {
    return {
      kind: 'error',
      message: 'redirect_uri does not match a registered redirect URI of this application',
    };
  }
  if (rules.requireResponseType !== false && params.get('response_type') !== 'code') {
    return { kind: 'error', message: 'response_type must be code' };
  }
  const state = params.get('state');
  if (state === null || state.length < 8) {
    return { kind: 'error', message: 'state required: at least 8 characters' };
  }
  const codeChallenge = params.get('code_challenge') ?? undefined;
  if (
    codeChallenge !== undefined &&
    (params.get('code_challenge_method') !== 'S256' || !/^[A-Za-z0-9_-]{43}$/.test(codeChallenge))
  ) {
    return {
      kind: 'error',
      message: 'code_challenge must be an S256 challenge (code_challenge_method=S256)',
    };
  }
  const scopeRule = rules.scope ?? { mode: 'required' };
  let scope = (params.get('scope') ?? '').split(rules.scopeSeparator ?? /\s+/).filter((name) => name !== '');
  if (scopeRule.mode === 'none') scope = [];
  if (scope.length === 0 && scopeRule.mode === 'default') scope = scopeRule.value.split(' ');
  if (scope.length === 0 && scopeRule.mode === 'required') {
    return { kind: 'denied', location: withParams(redirectUri, { error: 'access_denied', state }) };
  }
  const request: AuthorizeRequest = { clientId, redirectUri, state, scope: scope.join(' ') };
  if (codeChallenge !== undefined) request.codeChallenge = codeChallenge;
  return { kind: 'ok', request };
}

/** Where a Deny sends the browser; the real docs show no `state` on it, so it is there only on request. */
export function denialLocation(request: AuthorizeRequest, includeState: boolean): string {
  return withParams(request.redirectUri, {
    error: 'access_denied',
    state: includeState ? request.state : undefined,
  });
}
