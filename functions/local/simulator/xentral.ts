/** Xentral simulator: personal access tokens only, rate-limited per instance and client IP. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { normalizeBasePath, SimulatorServer } from './base';
import { bearerToken, send, sendJson, sendMethodNotAllowed, sendNotFound } from './http';
import { xentralPayload } from './payloads';
import { DOMAIN_PREFIX_PATTERN, randomToken } from './random';
import { RateWindows } from './rate-limit';

const RATE_LIMIT = 100;
const RATE_WINDOW_MS = 60 * 1000;

/** Options of the Xentral simulator. */
export interface XentralSimulatorOptions {
  /** Path prefix the simulator answers under, default '/_sim/xentral'. */
  basePath?: string;
  /** Clock for tests, default Date.now. */
  now?: () => number;
}

/** Xentral simulator: personal access tokens only. */
export class XentralSimulator extends SimulatorServer {
  private readonly now: () => number;
  private readonly tokens = new Map<string, Set<string>>();
  private readonly rateWindows = new RateWindows(RATE_WINDOW_MS);
  private counters = { apiCalls: 0, unauthorized: 0 };

  constructor(options: XentralSimulatorOptions = {}) {
    super(normalizeBasePath(options.basePath ?? '/_sim/xentral'));
    this.now = options.now ?? Date.now;
  }

  /** Registers a personal access token for an instance (returns the token, generating one if not given). */
  createToken(instance: string, token: string = randomToken(48)): string {
    if (!DOMAIN_PREFIX_PATTERN.test(instance)) throw new RangeError('instance must be a DNS label');
    if (!/^[A-Za-z0-9._~+/=|-]+$/.test(token)) throw new RangeError('token must be a bearer token string');
    let set = this.tokens.get(instance);
    if (set === undefined) {
      set = new Set();
      this.tokens.set(instance, set);
    }
    set.add(token);
    return token;
  }

  /** Test helper: deletes a personal access token, as an admin would. */
  revokeToken(instance: string, token: string): void {
    this.tokens.get(instance)?.delete(token);
  }

  /** URLs to configure the broker with; the template keeps `{account}`. */
  urls(origin: string): { apiBaseUrl: string } {
    return { apiBaseUrl: `${origin.replace(/\/+$/, '')}${this.root}/{account}/api` };
  }

  /** A snapshot of the counters. */
  stats(): { apiCalls: number; unauthorized: number } {
    return { ...this.counters };
  }

  /** Zeroes the counters. */
  resetStats(): void {
    this.counters = { apiCalls: 0, unauthorized: 0 };
  }

  protected route(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const segments = this.segments(url);
    const [instance, api] = segments;
    if (
      instance === undefined ||
      !DOMAIN_PREFIX_PATTERN.test(instance) ||
      api !== 'api' ||
      segments.length < 3 ||
      segments.slice(2).some((segment) => segment === '')
    ) {
      sendNotFound(res);
      return;
    }
    if (req.method !== 'GET') {
      sendMethodNotAllowed(res, 'GET');
      return;
    }
    this.counters.apiCalls += 1;

    // The limit is per instance and client IP and is enforced in front of authentication.
    const now = this.now();
    const hit = this.rateWindows.hit(`${instance}|${req.socket.remoteAddress ?? ''}`, now, RATE_LIMIT);
    if (hit.over) {
      sendJson(
        res,
        429,
        { message: 'Too Many Attempts.' },
        {
          ...hit.headers,
          'retry-after': String(Math.max(1, Math.ceil((hit.resetAt - now) / 1000))),
          'x-ratelimit-reset': String(Math.ceil(hit.resetAt / 1000)),
        },
      );
      return;
    }

    const token = bearerToken(req);
    if (token === undefined || this.tokens.get(instance)?.has(token) !== true) {
      this.counters.unauthorized += 1;
      // The real service answers 401 with an HTML body; clients must not parse it as JSON.
      send(res, 401, 'text/html; charset=UTF-8', 'Unauthorized', hit.headers);
      return;
    }
    sendJson(res, 200, xentralPayload(instance, segments.slice(2).join('/')), hit.headers);
  }
}
