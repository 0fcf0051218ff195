import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { CACHE } from './paths.js';

/** The cosign binary the test setup builds from its Go module (scripts/setup-test-env.sh). */
export function cosignBinary(): string {
  const bin = join(CACHE, 'go', 'bin', 'cosign');
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run 'npm run setup' first (it builds cosign once)`);
  return bin;
}

/**
 * A proxy that is not one: every connection is counted and closed. Pointing HTTP(S)_PROXY at it catches any request
 * cosign would send beyond loopback (Go's net/http never proxies loopback addresses, so the test registry is reached
 * directly), and the count lets a test assert that there were none.
 */
export interface Trap {
  readonly url: string;
  connections(): number;
  close(): Promise<void>;
}

export function startTrap(): Promise<Trap> {
  let count = 0;
  const server: Server = createServer((socket) => {
    count++;
    socket.destroy();
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      resolve({
        url: `http://127.0.0.1:${port}`,
        connections: () => count,
        close: () => new Promise((r) => server.close(() => r())),
      });
    });
  });
}

/**
 * An environment in which cosign stays on loopback: a private HOME and TUF root, no Sigstore cache, every proxy
 * variable on the trap, and a Rekor public key file given so that `verify` does not fetch the public-good trusted
 * root from TUF (with --insecure-ignore-tlog the key is never used).
 */
export function cosignEnv(dir: string, trap: Trap, rekorKeyPem: string): NodeJS.ProcessEnv {
  mkdirSync(join(dir, 'home'), { recursive: true });
  const rekorKey = join(dir, 'unused-rekor.pub');
  writeFileSync(rekorKey, rekorKeyPem);
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(https?_proxy|no_proxy|all_proxy|cosign_|sigstore_|tuf_|docker_config)/i.test(k)) env[k] = v;
  }
  return {
    ...env,
    HOME: join(dir, 'home'),
    DOCKER_CONFIG: join(dir, 'home', '.docker'),
    TUF_ROOT: join(dir, 'tuf'),
    SIGSTORE_NO_CACHE: 'true',
    SIGSTORE_REKOR_PUBLIC_KEY: rekorKey,
    HTTPS_PROXY: trap.url,
    HTTP_PROXY: trap.url,
    https_proxy: trap.url,
    http_proxy: trap.url,
    NO_PROXY: '',
    no_proxy: '',
  };
}

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run a program without a shell and collect its output (a non-zero exit is a result, not an exception). */
export function run(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv, cwd?: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(cmd, [...args], { env, maxBuffer: 64 * 1024 * 1024, ...(cwd ? { cwd } : {}) }, (err, stdout, stderr) => {
      if (err && typeof (err as { code?: unknown }).code !== 'number') return reject(err);
      resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr });
    });
  });
}
