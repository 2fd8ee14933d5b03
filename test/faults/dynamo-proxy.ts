/**
 * A fault-injecting HTTP proxy in front of dynalite, for tests only (127.0.0.1). Every request is
 * forwarded unchanged unless a queued fault matches it; then the proxy answers the way DynamoDB
 * answers when it sheds load, without forwarding:
 *
 * | kind                     | status | `__type`                                                     | what SDK v3 makes of it |
 * |--------------------------|--------|--------------------------------------------------------------|-------------------------|
 * | `provisioned-throughput` | 400    | `com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException` | THROTTLING: retried, 1 s backoff base |
 * | `throttling-500`         | 500    | `com.amazon.coral.availability#ThrottlingException`          | THROTTLING: retried |
 * | `throttling-503`         | 503    | `com.amazon.coral.availability#ThrottlingException`          | THROTTLING: retried |
 * | `internal-500`           | 500    | `com.amazonaws.dynamodb.v20120810#InternalServerError`        | TRANSIENT: retried, 25 ms backoff base |
 * | `validation-400`         | 400    | `com.amazon.coral.validate#ValidationException`              | CLIENT_ERROR: not retried |
 * | `connection-reset`       | —      | the socket is destroyed before any answer                     | ECONNRESET, TRANSIENT: retried |
 *
 * (The classification is @smithy/core's retry module as shipped with @aws-sdk/client-dynamodb
 * 3.11xx: 4 attempts by default for DynamoDB; dynamo-proxy.test.ts pins it down.)
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type DynamoFaultKind =
  | 'provisioned-throughput'
  | 'throttling-500'
  | 'throttling-503'
  | 'internal-500'
  | 'validation-400'
  | 'connection-reset';

export interface DynamoFault {
  readonly kind: DynamoFaultKind;
  /** How many matching requests get the fault. */
  readonly count: number;
  /** Only these operations (`GetItem`, `UpdateItem`, `Query`…); default every operation. */
  readonly operations?: readonly string[];
  /** Let this many matching requests through first. */
  readonly skip?: number;
}

export interface DynamoProxyStats {
  /** Requests seen, by operation (`UpdateItem`, …). */
  readonly requests: Record<string, number>;
  /** Requests answered with a fault, by operation. */
  readonly faulted: Record<string, number>;
}

interface Queued {
  fault: DynamoFault;
  skip: number;
  remaining: number;
}

const ANSWERS: Record<Exclude<DynamoFaultKind, 'connection-reset'>, { status: number; body: object }> = {
  'provisioned-throughput': {
    status: 400,
    body: {
      __type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException',
      message:
        'The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.',
    },
  },
  'throttling-500': {
    status: 500,
    body: {
      __type: 'com.amazon.coral.availability#ThrottlingException',
      message: 'Throughput exceeds the current capacity of your table or index.',
    },
  },
  'throttling-503': {
    status: 503,
    body: {
      __type: 'com.amazon.coral.availability#ThrottlingException',
      message: 'Throughput exceeds the current capacity of your table or index.',
    },
  },
  'internal-500': {
    status: 500,
    body: {
      __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError',
      message: 'Internal server error',
    },
  },
  'validation-400': {
    status: 400,
    body: { __type: 'com.amazon.coral.validate#ValidationException', message: 'injected validation error' },
  },
};

/** `DynamoDB_20120810.UpdateItem` → `UpdateItem`. */
const operationOf = (req: IncomingMessage): string =>
  String(req.headers['x-amz-target'] ?? 'unknown')
    .split('.')
    .pop() ?? 'unknown';

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** The proxy; `endpoint` goes into DYNAMODB_ENDPOINT. */
export class DynamoFaultProxy {
  private queue: Queued[] = [];
  private counts = { requests: {} as Record<string, number>, faulted: {} as Record<string, number> };

  private constructor(
    private readonly server: Server,
    readonly endpoint: string,
    private readonly target: URL,
  ) {}

  /** Starts a proxy on 127.0.0.1 forwarding to `target` (dynalite's endpoint). */
  static async start(target: string): Promise<DynamoFaultProxy> {
    let proxy: DynamoFaultProxy | undefined;
    const server = createServer((req, res) => {
      proxy?.handle(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(502).end();
        else res.destroy();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    proxy = new DynamoFaultProxy(server, `http://127.0.0.1:${port}`, new URL(target));
    return proxy;
  }

  /** Queues a fault; faults are tried in order, the first that matches a request takes it. */
  fail(fault: DynamoFault): void {
    if (!Number.isInteger(fault.count) || fault.count < 1) throw new RangeError('count must be ≥ 1');
    this.queue.push({ fault, skip: fault.skip ?? 0, remaining: fault.count });
  }

  /** Drops every queued fault. */
  clear(): void {
    this.queue = [];
  }

  /** Faults still queued. */
  pending(): number {
    return this.queue.length;
  }

  stats(): DynamoProxyStats {
    return { requests: { ...this.counts.requests }, faulted: { ...this.counts.faulted } };
  }

  resetStats(): void {
    this.counts = { requests: {}, faulted: {} };
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private take(operation: string): DynamoFault | undefined {
    for (const [index, queued] of this.queue.entries()) {
      const { operations } = queued.fault;
      if (operations !== undefined && !operations.includes(operation)) continue;
      if (queued.skip > 0) {
        queued.skip -= 1;
        return undefined;
      }
      queued.remaining -= 1;
      if (queued.remaining === 0) this.queue.splice(index, 1);
      return queued.fault;
    }
    return undefined;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const operation = operationOf(req);
    const body = await readBody(req);
    this.counts.requests[operation] = (this.counts.requests[operation] ?? 0) + 1;
    const fault = this.take(operation);
    if (fault !== undefined) {
      this.counts.faulted[operation] = (this.counts.faulted[operation] ?? 0) + 1;
      if (fault.kind === 'connection-reset') {
        req.socket.destroy();
        return;
      }
      const answer = ANSWERS[fault.kind];
      const text = JSON.stringify(answer.body);
      res.writeHead(answer.status, {
        'content-type': 'application/x-amz-json-1.0',
        'content-length': Buffer.byteLength(text),
        'x-amzn-requestid': randomUUID(),
      });
      res.end(text);
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const upstream = request(
        {
          host: this.target.hostname,
          port: this.target.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          answer.on('end', resolve);
          answer.on('error', reject);
        },
      );
      upstream.on('error', reject);
      upstream.end(body);
    });
  }
}
