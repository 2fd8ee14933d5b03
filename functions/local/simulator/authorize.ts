/** The Lightspeed simulator's check of an authorize request, from the URL or the consent form's echo. */
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

const AUTHORIZE_PARAMS = [
  'response_type',
  'client_id',
  'redirect_uri',
  'state',
  'scope',
  'code_challenge',
  'code_challenge_method',
] as const;

export function checkAuthorize(params: URLSearchParams, app: RegisteredApp): AuthorizeCheck {
  for (const name of AUTHORIZE_PARAMS) {
    if (params.getAll(name).length > 1) return { kind: 'error', message: `${name} must be given once` };
  }
  const clientId = params.get('client_id');
  if (clientId === null || clientId !== app.clientId) {
    return { kind: 'error', message: 'Unknown client_id: no such application' };
  }
  const redirectUri = params.get('redirect_uri');
  if (redirectUri === null || !app.redirectUris.includes(redirectUri)) {
    return {
      kind: 'error',
      message: 'redirect_uri does not match a registered redirect URI of this application',
    };
  }
  if (params.get('response_type') !== 'code') {
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
  const scope = (params.get('scope') ?? '').split(/\s+/).filter((name) => name !== '');
  if (scope.length === 0) {
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
