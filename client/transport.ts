/**
 * How the client reaches the broker: HTTP (the API key locally, SigV4 for a deployed broker) or a
 * direct invocation of the tokens function. Both read the answer the same way: its JSON, or the
 * contract's error as a typed error.
 */
import type { InvokeCommandOutput, LambdaClient } from '@aws-sdk/client-lambda';
import { BrokerRequestError, errorFromResponse } from './errors';
import type { SigV4Signer } from './sigv4';

/**
 * Token fetches by invoking the broker's tokens function (`lambda:InvokeFunction`), without API
 * Gateway: for backends inside AWS. Only `getToken` travels this way; the management methods need
 * `url` and `auth`.
 */
export interface LambdaTransportOptions {
  /** Name or ARN of the tokens function (the stack output `TokensFunctionName`). */
  readonly functionName: string;
  /** @default the client's own region resolution (AWS_REGION) */
  readonly region?: string;
  /** A client of your own (credentials, retries); @default a LambdaClient with the standard credential chain */
  readonly client?: LambdaClient;
}

/** One request to a management or token route. */
export interface Request {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly path: string;
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>>;
  readonly body?: unknown;
}

/** What both transports share with the client. */
export interface TransportContext {
  /** Per request. */
  readonly timeoutMs: number;
  /** Epoch ms (Retry-After dates are resolved from it). */
  readonly now: () => number;
}

/** Requests to the broker's HTTP API. */
export class HttpTransport {
  constructor(
    /** The broker's base URL, without a trailing slash. */
    readonly url: string,
    private readonly auth: { readonly apiKey: string } | { readonly signer: SigV4Signer },
    private readonly fetch: typeof globalThis.fetch,
    private readonly context: TransportContext,
  ) {}

  /** One broker request: auth, JSON, the contract's errors as typed errors. */
  async request<T>(request: Request): Promise<T> {
    const url = new URL(`${this.url}${request.path}`);
    const query = Object.entries(request.query ?? {}).filter(
      (entry): entry is [string, string | number | boolean] => entry[1] !== undefined,
    );
    // Encoded by hand (RFC 3986) so the URL sent is the one SigV4 canonicalizes.
    if (query.length > 0) url.search = query.map(([k, v]) => `${rfc3986(k)}=${rfc3986(String(v))}`).join('&');
    const body = request.body === undefined ? undefined : JSON.stringify(request.body);
    let headers: Record<string, string> = {
      accept: 'application/json',
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    };
    if ('apiKey' in this.auth) {
      headers.authorization = `Bearer ${this.auth.apiKey}`;
    } else {
      let signed: Record<string, string>;
      try {
        signed = await this.auth.signer.sign({
          method: request.method,
          url,
          headers,
          ...(body === undefined ? {} : { body }),
        });
      } catch (error) {
        throw new BrokerRequestError(
          'credentials_unavailable',
          0,
          `cannot sign the request: ${error instanceof Error ? error.message : String(error)}`,
          { cause: error },
        );
      }
      // fetch derives Host from the URL; the signed value is the same.
      const { host: _host, ...rest } = signed;
      headers = rest;
    }
    let response: Response;
    try {
      response = await this.fetch(url, {
        method: request.method,
        headers,
        ...(body === undefined ? {} : { body }),
        redirect: 'manual',
        signal: AbortSignal.timeout(this.context.timeoutMs),
      });
    } catch (error) {
      const timedOut = error instanceof Error && error.name === 'TimeoutError';
      throw new BrokerRequestError(
        'network_error',
        0,
        timedOut
          ? `no answer from ${url.origin} within ${this.context.timeoutMs} ms`
          : `cannot reach the broker at ${url.origin}`,
        { cause: error },
      );
    }
    return brokerAnswer<T>(
      response.status,
      await response.text(),
      response.headers.get('retry-after'),
      this.context.now(),
    );
  }
}

/** Direct invocations of the tokens function (`lambda:InvokeFunction`). */
export class LambdaTransport {
  private client: Promise<LambdaClient> | undefined;

  constructor(
    private readonly options: LambdaTransportOptions,
    private readonly context: TransportContext,
  ) {}

  /**
   * One direct invocation of the tokens function: the route's request as the event, its answer
   * (`statusCode`, `headers`, `body`) read exactly as an HTTP answer.
   */
  async invoke(event: Record<string, unknown>): Promise<unknown> {
    const lambda = this.options;
    const { InvokeCommand } = await import('@aws-sdk/client-lambda');
    this.client ??= (async () => {
      if (lambda.client !== undefined) return lambda.client;
      const { LambdaClient } = await import('@aws-sdk/client-lambda');
      return new LambdaClient(lambda.region === undefined ? {} : { region: lambda.region });
    })();
    const client = await this.client;
    let output: InvokeCommandOutput;
    try {
      output = await client.send(
        new InvokeCommand({ FunctionName: lambda.functionName, Payload: JSON.stringify(event) }),
        { abortSignal: AbortSignal.timeout(this.context.timeoutMs) },
      );
    } catch (error) {
      const name = error instanceof Error ? error.name : '';
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? 0;
      if (status === 0) {
        const timedOut = name === 'TimeoutError' || name === 'AbortError';
        throw new BrokerRequestError(
          name === 'CredentialsProviderError' ? 'credentials_unavailable' : 'network_error',
          0,
          timedOut
            ? `no answer from ${lambda.functionName} within ${this.context.timeoutMs} ms`
            : `cannot invoke ${lambda.functionName}: ${error instanceof Error ? error.message : String(error)}`,
          { cause: error },
        );
      }
      // Lambda's own refusals (AccessDenied, ResourceNotFound, throttling) carry no token.
      throw new BrokerRequestError(
        status === 403 ? 'forbidden' : status === 404 ? 'not_found' : `lambda_${name || status}`,
        status,
        `invoking ${lambda.functionName} failed: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
    const text = output.Payload === undefined ? '' : new TextDecoder().decode(output.Payload);
    if (output.FunctionError !== undefined) {
      // An unhandled error or a timeout of the function; its payload is Lambda's error object.
      throw new BrokerRequestError(
        'internal_error',
        500,
        `the tokens function failed (${output.FunctionError})`,
      );
    }
    const answer = parseJson(text) as { statusCode?: unknown; headers?: unknown; body?: unknown } | undefined;
    if (typeof answer?.statusCode !== 'number' || typeof answer.body !== 'string') {
      throw new BrokerRequestError('invalid_response', 0, 'the tokens function answered without a response');
    }
    const headers = (
      typeof answer.headers === 'object' && answer.headers !== null ? answer.headers : {}
    ) as Record<string, unknown>;
    const retryAfter = typeof headers['retry-after'] === 'string' ? headers['retry-after'] : null;
    return brokerAnswer(answer.statusCode, answer.body, retryAfter, this.context.now());
  }
}

/** An answer of the broker (HTTP or direct invocation): its JSON, or the contract's typed error. */
export function brokerAnswer<T>(status: number, text: string, retryAfter: string | null, now: number): T {
  const parsed = parseJson(text);
  if (status >= 200 && status < 300) {
    if (status === 204) return undefined as T;
    if (parsed === undefined) {
      throw new BrokerRequestError('invalid_response', status, 'the broker answered without JSON');
    }
    return parsed as T;
  }
  throw errorFromResponse(status, parsed, retryAfter, now);
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const rfc3986 = (value: string) =>
  encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
