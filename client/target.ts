/**
 * Which broker the CLI talks to and how it authenticates: the local runtime with its API key, or a
 * deployed broker with SigV4. Same commands either way.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { TokenBrokerAuth } from './client';
import { executeApiRegion } from './sigv4';

export const DEFAULT_URL = 'http://localhost:8787';

export interface TargetFlags {
  readonly url?: string | undefined;
  readonly apiKey?: string | undefined;
  readonly aws?: boolean | undefined;
  readonly region?: string | undefined;
}

export interface Target {
  readonly url: string;
  readonly auth: TokenBrokerAuth;
  /** Where the credentials came from, for error hints (never the key itself). */
  readonly authSource: string;
}

/** Bad flags or environment: the CLI prints the message and exits with the usage code. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface TargetEnvironment {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly readFile?: (path: string) => Promise<string>;
}

/**
 * `--aws` or an execute-api host: SigV4. Else an API key from `--api-key` or BROKER_API_KEY; else,
 * for a loopback URL, the key `npm start` saved in `${BROKER_DATA_DIR:-.broker}/api-key`; else, for
 * https, SigV4 (a custom domain in front of API Gateway).
 */
export async function resolveTarget(flags: TargetFlags, environment: TargetEnvironment): Promise<Target> {
  const { env } = environment;
  const raw = flags.url ?? nonEmpty(env.BROKER_URL) ?? DEFAULT_URL;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`--url / BROKER_URL is not a URL: ${raw}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`--url / BROKER_URL must be http(s): ${raw}`);
  }
  const base = url.href.replace(/\/+$/, '');
  const hostRegion = executeApiRegion(url.hostname);
  const apiKey = nonEmpty(flags.apiKey) ?? nonEmpty(env.BROKER_API_KEY);

  const sigv4 = (why: string): Target => {
    const region =
      nonEmpty(flags.region) ?? hostRegion ?? nonEmpty(env.AWS_REGION) ?? nonEmpty(env.AWS_DEFAULT_REGION);
    if (region === undefined) {
      throw new UsageError(`SigV4 needs a region for ${url.host}: pass --region or set AWS_REGION`);
    }
    return { url: base, auth: { sigv4: { region } }, authSource: `SigV4 (${why}, region ${region})` };
  };

  if (flags.aws === true) return sigv4('--aws');
  if (hostRegion !== undefined) return sigv4('execute-api host');
  if (apiKey !== undefined) {
    return {
      url: base,
      auth: { apiKey },
      authSource: flags.apiKey === undefined ? 'BROKER_API_KEY' : '--api-key',
    };
  }
  if (isLoopback(url.hostname)) {
    const dataDir = nonEmpty(env.BROKER_DATA_DIR) ?? '.broker';
    const path = resolve(environment.cwd, join(dataDir, 'api-key'));
    const read = environment.readFile ?? ((p: string) => readFile(p, 'utf8'));
    let key: string | undefined;
    try {
      key = nonEmpty((await read(path)).trim());
    } catch {
      key = undefined;
    }
    if (key === undefined) {
      throw new UsageError(
        `no API key for ${base}: pass --api-key or set BROKER_API_KEY (npm start saves its key in ${join(dataDir, 'api-key')}, not found in ${environment.cwd})`,
      );
    }
    return { url: base, auth: { apiKey: key }, authSource: path };
  }
  if (url.protocol === 'https:') return sigv4('https without an API key');
  throw new UsageError(`no credentials for ${base}: pass --api-key, set BROKER_API_KEY, or use --aws`);
}

/** localhost, *.localhost, 127.0.0.0/8 and ::1. */
export function isLoopback(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/^\[|\]$/g, '');
  return (
    host === 'localhost' ||
    host.endsWith('.localhost') ||
    host === '::1' ||
    /^127(?:\.\d{1,3}){3}$/.test(host)
  );
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}
