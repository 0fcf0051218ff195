import { fail, PortcullisError } from '../errors.js';

/** Longest password read from a pipe; cosign reads all of stdin, this bounds it. */
const MAX_PASSWORD_BYTES = 64 * 1024;

/** Where a password came from, so callers can warn about an empty one. */
export interface Password {
  readonly bytes: Buffer;
  readonly source: 'env' | 'tty' | 'stdin';
}

/**
 * The private-key password, found as cosign finds it (so scripts written for cosign keep working): COSIGN_PASSWORD
 * when set (even empty), else a prompt without echo on a terminal (twice when `confirm`), else all of standard input,
 * byte for byte.
 */
export async function readPassword(confirm: boolean): Promise<Password> {
  const env = process.env.COSIGN_PASSWORD;
  if (env !== undefined) return { bytes: Buffer.from(env, 'utf8'), source: 'env' };
  if (process.stdin.isTTY) {
    const first = await prompt('Enter password for private key: ');
    if (confirm) {
      const again = await prompt('Enter password for private key again: ');
      if (!first.equals(again)) fail('USAGE', 'the passwords do not match');
    }
    return { bytes: first, source: 'tty' };
  }
  return { bytes: await readStdin(), source: 'stdin' };
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > MAX_PASSWORD_BYTES) fail('USAGE', `the password on standard input is over ${MAX_PASSWORD_BYTES} bytes`);
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

/** Read one line from the terminal in raw mode, echoing nothing; Ctrl-C aborts, backspace edits. */
function prompt(question: string): Promise<Buffer> {
  const stdin = process.stdin;
  // Raw mode before the prompt: what is typed while the terminal is still cooked would be echoed.
  stdin.setRawMode(true);
  process.stderr.write(question);
  return new Promise((resolve, reject) => {
    const typed: number[] = [];
    const done = (err?: Error): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(Buffer.from(typed));
    };
    const onData = (chunk: Buffer): void => {
      for (const byte of chunk) {
        if (byte === 0x0d || byte === 0x0a || byte === 0x04) {
          done();
          return;
        }
        if (byte === 0x03) {
          done(new PortcullisError('USAGE', 'password prompt interrupted'));
          return;
        }
        if (byte === 0x7f || byte === 0x08) {
          // Drop the last UTF-8 character, continuation bytes included.
          while (typed.length > 0 && ((typed.pop() as number) & 0xc0) === 0x80);
          continue;
        }
        if (typed.length >= MAX_PASSWORD_BYTES) {
          done(new PortcullisError('USAGE', `the password is over ${MAX_PASSWORD_BYTES} bytes`));
          return;
        }
        typed.push(byte);
      }
    };
    stdin.resume();
    stdin.on('data', onData);
  });
}
