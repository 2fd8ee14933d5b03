/**
 * What both simulators share: answering only under their root path, never leaking details of a
 * failure (a request may hold secrets), and an optional standalone server on 127.0.0.1.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { requestUrl, sendJson, sendNotFound } from './http';

export function normalizeBasePath(path: string): string {
  const withSlash = path.startsWith('/') ? path : `/${path}`;
  return withSlash.replace(/\/+$/, '');
}

function isUnder(pathname: string, root: string): boolean {
  return pathname === root || pathname.startsWith(`${root}/`);
}

export abstract class SimulatorServer {
  private server: Server | undefined;

  protected constructor(protected readonly root: string) {}

  /** Serves one request under `root`. */
  protected abstract route(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> | void;

  /** The path's segments below `root` ('' for an empty one, as in `a//b`). */
  protected segments(url: URL): string[] {
    return url.pathname.slice(this.root.length).split('/').slice(1);
  }

  /** Handles a request if its path is under the simulator's root; resolves false (and writes nothing) otherwise. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const url = requestUrl(req);
    if (url === undefined || !isUnder(url.pathname, this.root)) return false;
    try {
      await this.route(req, res, url);
    } catch {
      // Deliberately no details: the request may hold secrets.
      if (!res.headersSent) sendJson(res, 500, { error: 'server_error', message: 'simulator failure' });
      else res.destroy();
    }
    return true;
  }

  /** Starts a standalone server on 127.0.0.1 (port 0 = any); resolves its origin, e.g. http://127.0.0.1:53211 */
  async listen(port = 0): Promise<string> {
    if (this.server !== undefined) throw new Error('the simulator is already listening');
    const { server, origin } = await serve((req, res) => this.handle(req, res), port);
    this.server = server;
    return origin;
  }

  /** Stops the standalone server, cutting off requests still in flight (e.g. hang faults). */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server !== undefined) await stop(server);
  }
}

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

async function serve(handler: Handler, port: number): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    handler(req, res).then(
      (handled) => {
        if (!handled) sendNotFound(res);
      },
      () => {
        if (!res.headersSent) sendJson(res, 500, { error: 'server_error' });
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  return { server, origin: `http://127.0.0.1:${address.port}` };
}

async function stop(server: Server): Promise<void> {
  const closed = new Promise<void>((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
  });
  // Keep-alive sockets and hanging requests would otherwise hold close() open indefinitely.
  server.closeAllConnections();
  await closed;
}
