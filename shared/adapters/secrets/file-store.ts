/**
 * The local runtime's secret store: one JSON file with 0600 permissions in BROKER_DATA_DIR.
 * Writes go to a temporary file and are renamed over the old one, so a reader (or a crash) sees
 * the old or the new content, never a torn file and never a moment without the token. Changes are
 * read-modify-write under a lock shared by every process on the folder (proper-lockfile: a
 * `secrets.json.lock` directory, taken over when its holder has not touched it for 10 s), so brokers
 * sharing BROKER_DATA_DIR never lose one another's changes.
 */
import { randomUUID } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { lock } from 'proper-lockfile';
import type { SecretStore } from '../../domain/ports';

type Contents = Record<string, { value: string; version: string }>;

/** How long a lock may go untouched (its holder refreshes it meanwhile) before others take it over. */
const LOCK_STALE_MS = 10_000;

/** Write queues per file, shared by every store object on that file in this process. */
const queues = new Map<string, Promise<unknown>>();

/** A SecretStore backed by a single 0600 JSON file. */
export class FileSecretStore implements SecretStore {
  constructor(private readonly path: string) {}

  async get(name: string) {
    return (await this.read())[name];
  }

  put(name: string, value: string) {
    return this.update((contents) => {
      const version = randomUUID();
      contents[name] = { value, version };
      return { version };
    });
  }

  delete(name: string) {
    return this.update((contents) => {
      delete contents[name];
    });
  }

  /**
   * The file's contents, checked: a file someone edited into another shape must fail loudly (and
   * never be rewritten by `update`, which would drop the other secrets), not hand out a non-token.
   */
  private async read(): Promise<Contents> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw error;
    }
    return parseContents(text, this.path);
  }

  /**
   * Read-modify-write, serialized per file (a queue in this process, the lock across processes) so
   * concurrent changes never lose one another.
   */
  private update<T>(change: (contents: Contents) => T): Promise<T> {
    const next = (queues.get(this.path) ?? Promise.resolve()).then(async () => {
      await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
      let lost: Error | undefined;
      const release = await lock(this.path, {
        // The file need not exist yet; the lock is `${path}.lock` beside it.
        realpath: false,
        stale: LOCK_STALE_MS,
        // Longer in all than `stale`, so that a lock left by a killed process is taken over.
        retries: { retries: 80, factor: 1.3, minTimeout: 5, maxTimeout: 250, randomize: true },
        // The default throws from a timer, which would end the process.
        onCompromised: (error) => {
          lost = error;
        },
      }).catch((error: unknown) => {
        if ((error as NodeJS.ErrnoException).code !== 'ELOCKED') throw error;
        throw new SecretFileError(
          `${this.path} is locked by another process (${LOCK_STALE_MS / 1000} s and more); try again`,
          { cause: error },
        );
      });
      const temporary = `${this.path}.${process.pid}.${randomUUID()}.tmp`;
      try {
        const contents = await this.read();
        const result = change(contents);
        await writeFile(temporary, JSON.stringify(contents), { mode: 0o600 });
        await chmod(temporary, 0o600);
        // Another process may have taken the lock over while this one stalled: its change wins.
        if (lost !== undefined) throw new SecretFileError(`the lock on ${this.path} was lost; try again`);
        await rename(temporary, this.path);
        return result;
      } finally {
        // A failed write (a full disk) leaves no temporary file behind.
        await rm(temporary, { force: true });
        if (lost === undefined) await release().catch(() => undefined);
      }
    });
    queues.set(
      this.path,
      next.catch(() => undefined),
    );
    return next;
  }
}

/** Thrown when the secrets file is not what this store writes; the message names the file and entry. */
export class SecretFileError extends Error {
  override readonly name = 'SecretFileError';
}

function parseContents(text: string, path: string): Contents {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new SecretFileError(`${path} is not valid JSON; restore it from a backup`, { cause });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new SecretFileError(`${path} must hold a JSON object of secrets`);
  }
  for (const [name, entry] of Object.entries(parsed)) {
    const ok =
      typeof entry === 'object' &&
      entry !== null &&
      typeof (entry as { value?: unknown }).value === 'string' &&
      typeof (entry as { version?: unknown }).version === 'string';
    if (!ok) throw new SecretFileError(`${path}: the secret "${name}" is not {"value","version"} strings`);
  }
  return parsed as Contents;
}
