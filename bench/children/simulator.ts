/**
 * Child process: the Lightspeed simulator (standing in for the provider, so it does not share the
 * broker's event loop), behind a server that records every answer of its token endpoint: statuses
 * (429s), the most calls in flight at once and the most calls in one second.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pMap from 'p-map';
import { LightspeedSimulator } from '../../functions/local/simulator';
import { serveParent } from '../lib/child';
import { SIMULATOR_APP, TOKEN_CALLS_PER_RETAILER } from '../lib/runtime';

const {
  clientId: CLIENT_ID,
  clientSecret: CLIENT_SECRET,
  redirectUri: REDIRECT_URI,
  scope: SCOPE,
} = SIMULATOR_APP;

/** The simulator behind a server that records every answer of its token endpoint. */
class ObservedSimulator {
  readonly simulator = new LightspeedSimulator({
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    redirectUris: [REDIRECT_URI],
    // A per-retailer limit on the token endpoint, so that provider_429s can show a sweep that calls
    // any retailer more than it needs to (retries, double refreshes). Lightspeed publishes no number
    // for it ("its own, smaller limit"): 10 per 5 minutes is an assumption, well above the 1 exchange
    // and at most 4 refreshes a bench run makes per retailer.
    tokenRateLimit: TOKEN_CALLS_PER_RETAILER,
  });
  private server: Server | undefined;
  origin = '';
  statuses: Record<number, number> = {};
  private inFlight = 0;
  maxInFlight = 0;
  private perSecond = new Map<number, number>();

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const isToken = (req.url ?? '').endsWith('/api/1.0/token');
      if (isToken) {
        this.inFlight++;
        this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
        const second = Math.floor(Date.now() / 1000);
        this.perSecond.set(second, (this.perSecond.get(second) ?? 0) + 1);
        res.once('close', () => {
          this.inFlight--;
          this.statuses[res.statusCode] = (this.statuses[res.statusCode] ?? 0) + 1;
        });
      }
      this.simulator.handle(req, res).then(
        (handled) => {
          if (!handled) {
            res.writeHead(404);
            res.end();
          }
        },
        () => res.destroy(),
      );
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.origin = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  reset(): void {
    this.statuses = {};
    this.maxInFlight = 0;
    this.perSecond.clear();
    this.simulator.resetStats();
  }

  /** Token calls in the busiest whole second. */
  get peakPerSecond(): number {
    return Math.max(0, ...this.perSecond.values());
  }

  get urls() {
    return this.simulator.urls(this.origin);
  }

  /** Connects `account` as a retailer would: consent, then the broker's code exchange. */
  async mint(account: string): Promise<{ accessToken: string; refreshToken: string }> {
    const authorize = new URL(this.urls.authorizeUrl);
    authorize.search = new URLSearchParams({
      response_type: 'code',
      client_id: CLIENT_ID,
      redirect_uri: REDIRECT_URI,
      state: `bench-state-${account}`,
      scope: SCOPE,
    }).toString();
    const callback = new URL(this.simulator.consent(authorize.toString(), { domainPrefix: account }));
    const response = await fetch(this.urls.tokenUrl.replace('{domain_prefix}', account), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: callback.searchParams.get('code') ?? '',
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        redirect_uri: REDIRECT_URI,
      }),
    });
    const body = (await response.json()) as { access_token?: string; refresh_token?: string };
    if (!response.ok || body.access_token === undefined || body.refresh_token === undefined)
      throw new Error(`the simulator refused the code exchange for ${account}: ${response.status}`);
    return { accessToken: body.access_token, refreshToken: body.refresh_token };
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server?.close(() => resolve());
      this.server?.closeAllConnections();
    });
  }
}

const sim = new ObservedSimulator();
await sim.start();

/** What the parent sees of the token endpoint since the last reset. */
export interface Observed {
  statuses: Record<number, number>;
  maxInFlight: number;
  peakPerSecond: number;
  maxConcurrentRefreshesPerAccount: number;
  revokedRefreshTokenUses: number;
  refreshes: number;
}

serveParent(
  { urls: sim.urls },
  {
    mint: (argument) => pMap(argument as string[], (account) => sim.mint(account), { concurrency: 16 }),
    latency: (argument) => sim.simulator.setTokenLatency(argument as number),
    reset: () => sim.reset(),
    observed: (): Observed => {
      const stats = sim.simulator.stats();
      return {
        statuses: sim.statuses,
        maxInFlight: sim.maxInFlight,
        peakPerSecond: sim.peakPerSecond,
        maxConcurrentRefreshesPerAccount: stats.maxConcurrentRefreshesPerAccount,
        revokedRefreshTokenUses: stats.revokedRefreshTokenUses,
        refreshes: stats.refreshes,
      };
    },
  },
);
