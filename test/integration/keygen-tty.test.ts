import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decryptPrivateKey } from '../../src/sign/keys.js';
import { runCli } from '../helpers/cli.js';
import { CLI } from '../helpers/paths.js';

/**
 * The password prompt on a real terminal: Python's pty module gives the CLI a pseudo-terminal, types at the prompts
 * and records everything the terminal shows, so the test can check that the password is never echoed.
 */
const DRIVER = `
import os, pty, sys, time
node, cli, prefix, first, second = sys.argv[1:6]
pid, fd = pty.fork()
if pid == 0:
    env = {k: v for k, v in os.environ.items() if k != 'COSIGN_PASSWORD'}
    os.execve(node, [node, cli, 'keygen', '--output-key-prefix', prefix], env)
seen = b''
def until(text):
    global seen
    deadline = time.monotonic() + 60
    while text not in seen:
        if time.monotonic() > deadline:
            sys.stdout.write(seen.decode('utf8', 'replace')); sys.exit(90)
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            sys.stdout.write(seen.decode('utf8', 'replace')); sys.exit(91)
        if not chunk:
            sys.stdout.write(seen.decode('utf8', 'replace')); sys.exit(92)
        seen += chunk
until(b'Enter password for private key: ')
os.write(fd, first.encode() + b'\\r')
until(b'again: ')
os.write(fd, second.encode() + b'\\r')
while True:
    try:
        chunk = os.read(fd, 1024)
    except OSError:
        break
    if not chunk:
        break
    seen += chunk
_, status = os.waitpid(pid, 0)
sys.stdout.write(seen.decode('utf8', 'replace'))
sys.exit(os.waitstatus_to_exitcode(status))
`;

let tmp: string;

function drive(prefix: string, first: string, second: string): { code: number; screen: string } {
  try {
    const screen = execFileSync('python3', ['-c', DRIVER, process.execPath, CLI, prefix, first, second], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    return { code: 0, screen };
  } catch (err) {
    const e = err as { status?: number; stdout?: string };
    return { code: e.status ?? -1, screen: e.stdout ?? '' };
  }
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'portcullis-tty-'));
});
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('keygen password prompt on a terminal', () => {
  it('asks twice without echoing, and the key opens with what was typed', async () => {
    const prefix = join(tmp, 'tty');
    const { code, screen } = drive(prefix, 'typed sëcret', 'typed sëcret');
    expect(code, screen).toBe(0);
    expect(screen).toContain('Enter password for private key again: ');
    expect(screen).not.toContain('typed');
    const pair = await decryptPrivateKey(readFileSync(`${prefix}.key`, 'utf8'), Buffer.from('typed sëcret'), 'k');
    expect(pair.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
  });

  it('refuses two different passwords and writes nothing', () => {
    const prefix = join(tmp, 'mismatch');
    const { code, screen } = drive(prefix, 'one', 'two');
    expect(code).toBe(2);
    expect(screen).toContain('portcullis: USAGE: the passwords do not match');
    expect(existsSync(`${prefix}.key`)).toBe(false);
    expect(existsSync(`${prefix}.pub`)).toBe(false);
  });

  it('without a terminal reads the password from standard input, byte for byte, as cosign does', async () => {
    const prefix = join(tmp, 'piped');
    const env = { ...process.env };
    delete env.COSIGN_PASSWORD;
    execFileSync(process.execPath, [CLI, 'keygen', '--output-key-prefix', prefix], { input: 'piped\n', env });
    await expect(
      decryptPrivateKey(readFileSync(`${prefix}.key`, 'utf8'), Buffer.from('piped\n'), 'k'),
    ).resolves.toBeDefined();
    // Refuses to overwrite without --force, before asking anything.
    const again = await runCli(['keygen', '--output-key-prefix', prefix], { COSIGN_PASSWORD: 'x' });
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/^portcullis: FILE_EXISTS: .*piped\.key already exists; pass --force/m);
    const forced = await runCli(['keygen', '--output-key-prefix', prefix, '--force'], { COSIGN_PASSWORD: 'x' });
    expect(forced.code).toBe(0);
    await expect(
      decryptPrivateKey(readFileSync(`${prefix}.key`, 'utf8'), Buffer.from('x'), 'k'),
    ).resolves.toBeDefined();
  });
});
