/**
 * Reads a secret for the CLI: all of stdin when it is piped, or a hidden prompt on a terminal. Never
 * from argv, where other users see it in `ps` and it lands in shell history.
 */
import { UsageError } from './target';

/** A readable stdin as the CLI needs it (process.stdin, or a stand-in in tests). */
export interface SecretSource extends NodeJS.ReadableStream {
  readonly isTTY?: boolean;
  setRawMode?(mode: boolean): unknown;
}

/** Ctrl-C at the prompt. */
export class PromptCancelledError extends Error {
  override readonly name = 'PromptCancelledError';
}

const MAX_BYTES = 16 * 1024;

export async function readSecret(
  stdin: SecretSource,
  prompt: { write(text: string): unknown },
  label: string,
): Promise<string> {
  const value = stdin.isTTY === true ? await hiddenPrompt(stdin, prompt, label) : await readAll(stdin);
  // Trailing newline from `echo`/files; inner whitespace is the broker's to refuse.
  const secret = value.replace(/[\r\n]+$/, '').trim();
  if (secret === '') {
    throw new UsageError(`no ${label} given: pipe it on stdin (e.g. < token.txt) or type it at the prompt`);
  }
  return secret;
}

async function readAll(stdin: SecretSource): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += buffer.length;
    if (size > MAX_BYTES) throw new UsageError(`stdin is over ${MAX_BYTES} bytes; expected one token`);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Raw mode so nothing is echoed; Enter ends, Backspace edits, Ctrl-C / Ctrl-D cancel. */
function hiddenPrompt(
  stdin: SecretSource,
  out: { write(text: string): unknown },
  label: string,
): Promise<string> {
  return new Promise((resolve, reject) => {
    out.write(`${label[0]?.toUpperCase() ?? ''}${label.slice(1)} (input hidden): `);
    let value = '';
    stdin.setRawMode?.(true);
    stdin.resume();
    const done = (error?: Error) => {
      stdin.removeListener('data', onData);
      stdin.setRawMode?.(false);
      stdin.pause();
      out.write('\n');
      if (error === undefined) resolve(value);
      else reject(error);
    };
    const onData = (chunk: Buffer | string) => {
      for (const char of typeof chunk === 'string' ? chunk : chunk.toString('utf8')) {
        if (char === '\r' || char === '\n') return done();
        if (char === '\u0003' || char === '\u0004') return done(new PromptCancelledError('cancelled'));
        if (char === '\u007f' || char === '\b') value = value.slice(0, -1);
        else if (char >= ' ') value += char;
      }
    };
    stdin.on('data', onData);
  });
}
