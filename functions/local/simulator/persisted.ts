/**
 * Demo mode keeps the simulators' app secret and the tokens each issued in
 * `BROKER_DATA_DIR/simulator.json` (0600), so that a store connected before a restart keeps
 * refreshing after it, as it would against the real service. Without this a restart gave the
 * simulator a new secret and no tokens, and every stored connection died on its next refresh.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { ConfigError } from '../../../shared/config';
import type { OAuthSimulatorState } from './state';

export interface DemoSimulatorFile {
  readonly clientSecret: string;
  /** The Lightspeed X-Series simulator's (the only one files written before v1.1 hold). */
  readonly tokens: OAuthSimulatorState;
  /** The other simulators', by provider id. */
  readonly providers?: Readonly<Record<string, OAuthSimulatorState>>;
}

/** The saved simulator, or a fresh secret and no tokens when there is no file yet. */
export async function loadDemoSimulator(path: string): Promise<DemoSimulatorFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    return {
      clientSecret: randomBytes(24).toString('base64url'),
      tokens: { accessTokens: [], refreshTokens: [] },
    };
  }
  const parsed = parse(text);
  if (parsed === undefined) {
    throw new ConfigError(
      `${path} is not the demo simulator's state; delete it to start the simulator afresh ` +
        '(stores connected in demo mode must then connect again)',
    );
  }
  return parsed;
}

function parse(text: string): DemoSimulatorFile | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const file = value as Partial<DemoSimulatorFile> | null;
  const ok =
    typeof file?.clientSecret === 'string' &&
    file.clientSecret.length > 0 &&
    isState(file.tokens) &&
    (file.providers === undefined ||
      (typeof file.providers === 'object' &&
        file.providers !== null &&
        Object.values(file.providers).every(isState)));
  return ok ? (file as DemoSimulatorFile) : undefined;
}

function isState(tokens: unknown): tokens is OAuthSimulatorState {
  const state = tokens as Partial<OAuthSimulatorState> | null | undefined;
  return (
    Array.isArray(state?.accessTokens) &&
    state.accessTokens.every(
      ([token, record]) =>
        typeof token === 'string' &&
        typeof record?.domainPrefix === 'string' &&
        typeof record.expiresAt === 'number' &&
        typeof record.revoked === 'boolean',
    ) &&
    Array.isArray(state.refreshTokens) &&
    state.refreshTokens.every(
      ([token, record]) =>
        typeof token === 'string' &&
        typeof record?.domainPrefix === 'string' &&
        typeof record.scope === 'string',
    )
  );
}

/**
 * Saves `current()` after each change: atomically (temporary file, then rename), never two writes
 * at once, and changes that arrive during a write coalesce into the one after it.
 */
export function demoSimulatorWriter(path: string, current: () => DemoSimulatorFile) {
  let writing: Promise<void> | undefined;
  let again = false;
  const write = async (): Promise<void> => {
    do {
      again = false;
      const temporary = `${path}.${process.pid}.${randomUUID()}.tmp`;
      await writeFile(temporary, JSON.stringify(current()), { mode: 0o600 });
      await rename(temporary, path);
    } while (again);
  };
  return {
    changed(): void {
      if (writing !== undefined) {
        again = true;
        return;
      }
      writing = write().finally(() => {
        writing = undefined;
      });
      // A failed save must not crash the demo; the next change tries again.
      writing.catch(() => undefined);
    },
    /** Resolves once every change so far is on disk. */
    async flush(): Promise<void> {
      await writing?.catch(() => undefined);
    },
  };
}
