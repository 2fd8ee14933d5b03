/**
 * SigV4 for a deployed broker: API Gateway checks the signature (AWS_IAM on every backend route),
 * service `execute-api`. Signs method, host, path, query and body, and sends the body's SHA-256 in
 * `x-amz-content-sha256`.
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';

export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly expiration?: Date;
}

/** Resolves (and, for temporary credentials, renews) credentials; called on every signature. */
export type AwsCredentialsProvider = () => Promise<AwsCredentials>;

export interface SigV4Options {
  readonly region: string;
  /** Static credentials or a provider; default: the standard chain (`fromNodeProviderChain`). */
  readonly credentials?: AwsCredentials | AwsCredentialsProvider;
  /** Default `execute-api`. */
  readonly service?: string;
}

export interface SignableRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
}

/** The standard credential chain, loaded only when a caller signs without its own credentials. */
function defaultCredentials(): AwsCredentialsProvider {
  let provider: AwsCredentialsProvider | undefined;
  return async () => {
    if (provider === undefined) {
      const { fromNodeProviderChain } = await import('@aws-sdk/credential-providers');
      // The chain memoizes what it resolved and renews temporary credentials before they expire.
      provider = fromNodeProviderChain();
    }
    return provider();
  };
}

/** SigV4 signing with one signer per client (the signer caches its signing keys). */
export class SigV4Signer {
  private readonly signer: SignatureV4;

  constructor(options: SigV4Options) {
    if (options.region.trim() === '') throw new TypeError('sigv4.region must not be empty');
    this.signer = new SignatureV4({
      service: options.service ?? 'execute-api',
      region: options.region,
      credentials: options.credentials ?? defaultCredentials(),
      sha256: Sha256,
    });
  }

  /**
   * The request's headers plus `host`, `x-amz-date`, `x-amz-content-sha256`, `authorization` and,
   * with temporary credentials, `x-amz-security-token`.
   */
  async sign(request: SignableRequest, signingDate?: Date): Promise<Record<string, string>> {
    const { url } = request;
    const query: Record<string, string | string[]> = {};
    for (const [name, value] of url.searchParams) {
      const existing = query[name];
      query[name] =
        existing === undefined ? value : [...(Array.isArray(existing) ? existing : [existing]), value];
    }
    const signed = await this.signer.sign(
      {
        method: request.method.toUpperCase(),
        protocol: url.protocol,
        hostname: url.hostname,
        ...(url.port === '' ? {} : { port: Number(url.port) }),
        path: url.pathname,
        query,
        // `host` as fetch will send it (with a non-default port), so the signature matches.
        headers: { ...lowerCaseKeys(request.headers), host: url.host },
        ...(request.body === undefined ? {} : { body: request.body }),
      },
      signingDate === undefined ? {} : { signingDate },
    );
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(signed.headers)) headers[name.toLowerCase()] = String(value);
    return headers;
  }
}

function lowerCaseKeys(headers: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}

/** The region in an API Gateway host (`{id}.execute-api.{region}.amazonaws.com`), else undefined. */
export function executeApiRegion(hostname: string): string | undefined {
  return /^[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/i
    .exec(hostname)?.[1]
    ?.toLowerCase();
}
