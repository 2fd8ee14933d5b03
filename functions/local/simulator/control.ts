/**
 * An OAuth simulator's control endpoints (`_control/…`): faults, statistics, settings and
 * revoking a store, for a demo or a test in another process. They need the control key and a
 * loopback peer; a simulator built without a key has none.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Fault, parseFault } from './faults';
import {
  bearerToken,
  isLoopback,
  isRecord,
  nonNegativeInteger,
  readBody,
  sendJson,
  sendNotFound,
  sendTooLarge,
} from './http';
import { safeEqual } from './random';
import type { SimulatorStats } from './stats';

/** What the control endpoints drive: the simulator's public methods and settings. */
export interface Controllable {
  readonly queuedFaults: number;
  readonly settings: { accessTokenTtlSeconds: number; tokenLatencyMs: number };
  injectFault(fault: Fault): void;
  clearFaults(): void;
  stats(): SimulatorStats;
  resetStats(): void;
  setAccessTokenTtl(seconds: number): void;
  setTokenLatency(ms: number): void;
  revokeAccount(domainPrefix: string): void;
}

export async function control(
  target: Controllable,
  key: string | undefined,
  req: IncomingMessage,
  res: ServerResponse,
  action: string,
): Promise<void> {
  if (key === undefined) return sendNotFound(res);
  if (!isLoopback(req.socket.remoteAddress)) {
    return sendJson(res, 403, {
      error: 'forbidden',
      message: 'control endpoints answer loopback peers only',
    });
  }
  const presented = bearerToken(req);
  if (presented === undefined || !safeEqual(presented, key)) {
    return sendJson(
      res,
      401,
      { error: 'unauthorized', message: 'control endpoints need Authorization: Bearer <the API key>' },
      { 'www-authenticate': 'Bearer' },
    );
  }
  const body = await readBody(req);
  if (body === undefined) return sendTooLarge(res);
  const json = (): unknown => (body.trim() === '' ? {} : JSON.parse(body));
  try {
    switch (`${req.method} ${action}`) {
      case 'POST faults':
        target.injectFault(parseFault(json()));
        return sendJson(res, 201, { queued: target.queuedFaults });
      case 'DELETE faults':
        target.clearFaults();
        return sendJson(res, 200, { queued: 0 });
      case 'GET stats':
        return sendJson(res, 200, target.stats());
      case 'POST reset-stats':
        target.resetStats();
        return sendJson(res, 200, target.stats());
      case 'POST settings': {
        const settings = json();
        if (!isRecord(settings)) throw new TypeError('settings must be a JSON object');
        if (settings.accessTokenTtlSeconds !== undefined) {
          target.setAccessTokenTtl(
            nonNegativeInteger(settings.accessTokenTtlSeconds, 'accessTokenTtlSeconds'),
          );
        }
        if (settings.tokenLatencyMs !== undefined) {
          target.setTokenLatency(nonNegativeInteger(settings.tokenLatencyMs, 'tokenLatencyMs'));
        }
        return sendJson(res, 200, target.settings);
      }
      case 'POST revoke-account': {
        const request = json();
        if (!isRecord(request) || typeof request.domainPrefix !== 'string') {
          throw new TypeError('domainPrefix must be a string');
        }
        target.revokeAccount(request.domainPrefix);
        return sendJson(res, 200, { revoked: request.domainPrefix });
      }
      default:
        return sendNotFound(res);
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : 'invalid request';
    return sendJson(res, 400, { error: 'invalid_request', message });
  }
}
