/**
 * Benchmark parts that must not share an event loop run in child processes (dynalite, the HTTP
 * targets, the in-process handler): TypeScript through tsx, requests and answers over IPC.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A new folder under the run's temporary root (BENCH_TMP, removed by bench/phases/index.ts at the end). */
export const benchTempDir = (prefix: string): Promise<string> =>
  mkdtemp(join(process.env.BENCH_TMP ?? tmpdir(), prefix));

interface Reply {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

export interface Child<Ready> {
  readonly process: ChildProcess;
  /** What the child sent once it was ready. */
  readonly ready: Ready;
  call<T>(type: string, argument?: unknown): Promise<T>;
  stop(): Promise<void>;
}

/**
 * Starts `bench/<file>` with tsx and waits for its `ready` message. The child's stdout and stderr
 * are not shown (the broker logs there, as it does on Lambda); the end of stderr is kept for errors.
 */
export async function startChild<Ready>(
  file: string,
  env: Record<string, string | undefined> = {},
  options: { timeoutMs?: number } = {},
): Promise<Child<Ready>> {
  const child = fork(fileURLToPath(new URL(`../${file}`, import.meta.url)), [], {
    cwd: ROOT,
    execArgv: ['--import', import.meta.resolve('tsx')],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const failure = (message: string) =>
    new Error(`${message}${stderr === '' ? '' : `\n--- stderr of ${file} (end):\n${stderr}`}`);
  let nextId = 1;
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  let exited = false;
  child.on('exit', (code, signal) => {
    exited = true;
    for (const waiter of pending.values())
      waiter.reject(failure(`${file} exited (${code ?? signal}) with a request pending`));
    pending.clear();
  });
  child.on('message', (message: Reply) => {
    const waiter = pending.get(message.id);
    if (waiter === undefined) return;
    pending.delete(message.id);
    if (message.ok) waiter.resolve(message.result);
    else waiter.reject(failure(`${file}: ${message.error}`));
  });
  const ready = await new Promise<Ready>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${file} did not start within ${options.timeoutMs ?? 60_000} ms`)),
      options.timeoutMs ?? 60_000,
    );
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(failure(`${file} exited with ${code} before it was ready`));
    });
    child.on('message', (message: { type?: string; ready?: Ready }) => {
      if (message.type !== 'ready') return;
      clearTimeout(timer);
      resolve(message.ready as Ready);
    });
  });
  return {
    process: child,
    ready,
    call: <T>(type: string, argument?: unknown) =>
      new Promise<T>((resolve, reject) => {
        if (exited) return reject(new Error(`${file} is not running`));
        const id = nextId++;
        pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
        child.send({ id, type, argument });
      }),
    stop: async () => {
      if (exited) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await gone;
    },
  };
}

/** Child side: announces readiness and answers the parent's calls with `handlers`. */
export function serveParent(
  ready: unknown,
  handlers: Readonly<Record<string, (argument: unknown) => Promise<unknown> | unknown>>,
): void {
  const send = (message: unknown) => process.send?.(message);
  process.on('message', (message: { id: number; type: string; argument?: unknown }) => {
    const handler = handlers[message.type];
    if (handler === undefined) {
      send({ id: message.id, ok: false, error: `no handler ${message.type}` });
      return;
    }
    Promise.resolve()
      .then(() => handler(message.argument))
      .then(
        (result) => send({ id: message.id, ok: true, result }),
        (error: unknown) =>
          send({ id: message.id, ok: false, error: error instanceof Error ? error.stack : String(error) }),
      );
  });
  // The parent went away: nothing left to measure for.
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready', ready });
}
