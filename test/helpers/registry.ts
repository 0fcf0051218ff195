import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A test CA and a server certificate for 127.0.0.1 / localhost, made with the openssl CLI. */
export interface TestPki {
  readonly dir: string;
  readonly caCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
}

/** Variations of the server certificate, for posture tests: other names, or a validity window in the past or future. */
export interface PkiOptions {
  /** subjectAltName entries (default `IP:127.0.0.1`, `DNS:localhost`). */
  readonly serverNames?: readonly string[];
  /** notBefore and notAfter as openssl ca takes them (YYYYMMDDHHMMSSZ), e.g. a window that has ended. */
  readonly serverValidity?: { readonly start: string; readonly end: string };
}

export function makePki(dir: string, opts: PkiOptions = {}): TestPki {
  mkdirSync(dir, { recursive: true });
  const f = (n: string) => join(dir, n);
  const run = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  run(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=Portcullis Test CA',
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.crt'),
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  );
  run(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=127.0.0.1',
    '-keyout',
    f('server.key'),
    '-out',
    f('server.csr'),
  );
  const names = (opts.serverNames ?? ['IP:127.0.0.1', 'DNS:localhost']).join(',');
  writeFileSync(f('ext.cnf'), `subjectAltName=${names}\nextendedKeyUsage=serverAuth\n`);
  if (opts.serverValidity) {
    // `openssl x509` (3.0) cannot set dates; `openssl ca` can, with a minimal CA database.
    writeFileSync(f('index.txt'), '');
    writeFileSync(
      f('ca.cnf'),
      [
        '[ca]',
        'default_ca = test',
        '[test]',
        `database = ${f('index.txt')}`,
        `new_certs_dir = ${dir}`,
        'rand_serial = yes',
        'default_md = sha256',
        'policy = any',
        'copy_extensions = none',
        '[any]',
        'commonName = supplied',
      ].join('\n'),
    );
    run(
      'ca',
      '-batch',
      '-notext',
      '-config',
      f('ca.cnf'),
      '-cert',
      f('ca.crt'),
      '-keyfile',
      f('ca.key'),
      '-in',
      f('server.csr'),
      '-startdate',
      opts.serverValidity.start,
      '-enddate',
      opts.serverValidity.end,
      '-extfile',
      f('ext.cnf'),
      '-out',
      f('server.crt'),
    );
    return { dir, caCert: f('ca.crt'), serverCert: f('server.crt'), serverKey: f('server.key') };
  }
  run(
    'x509',
    '-req',
    '-in',
    f('server.csr'),
    '-CA',
    f('ca.crt'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    f('ext.cnf'),
    '-out',
    f('server.crt'),
  );
  return { dir, caCert: f('ca.crt'), serverCert: f('server.crt'), serverKey: f('server.key') };
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** The registry's `auth.token` settings: where clients get tokens and how the registry checks them. */
export interface TokenAuth {
  readonly realm: string;
  readonly service: string;
  readonly issuer: string;
  /** PEM certificates whose keys may sign tokens. */
  readonly rootCertBundle: string;
}

export interface RegistryOptions {
  readonly tls?: boolean;
  readonly auth?: { readonly user: string; readonly password: string };
  readonly pki?: TestPki;
  /** Bearer-token auth against an external issuer instead of htpasswd (ref: distribution spec/auth/token). */
  readonly token?: TokenAuth;
  /** distribution's `http.tls.minimumtls` (with tls). */
  readonly minimumTls?: 'tls1.0' | 'tls1.1' | 'tls1.2' | 'tls1.3';
  /** One notification endpoint (distribution's `notifications.endpoints`), retried quickly for tests. */
  readonly notifications?: { readonly url: string; readonly headers?: Record<string, string[]> };
  /** A fixed port (default: a free one), e.g. for stored signatures that name host:port. */
  readonly port?: number;
}

/** A running CNCF distribution registry (Debian's docker-registry) on 127.0.0.1. */
export interface TestRegistry {
  readonly host: string;
  readonly port: number;
  readonly dir: string;
  readonly storage: string;
  readonly pki: TestPki | undefined;
  readonly auth: RegistryOptions['auth'];
  /** A certs.d-style directory holding the CA as ca.crt, for skopeo --dest-cert-dir and our --cert-dir. */
  readonly certDir: string | undefined;
  /** Everything the registry printed so far, its access log included (one line per request with method and status). */
  log(): string;
  /** SIGKILL the registry (a crash, not a shutdown) and wait until it is gone; storage stays. */
  kill(): Promise<void>;
  /** Start the registry again on the same port, configuration and storage. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

async function waitReady(url: string, child: ChildProcess, log: () => string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited: ${log()}`);
    try {
      await fetch(url);
      return;
    } catch (err) {
      const code = (err as { cause?: { code?: string } }).cause?.code;
      // A TLS complaint means the server is up (Node's fetch does not know the test CA).
      if (code && code !== 'ECONNREFUSED') return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`docker-registry did not start: ${log()}`);
}

export async function startRegistry(opts: RegistryOptions = {}): Promise<TestRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-registry-'));
  const storage = join(dir, 'storage');
  const port = opts.port ?? (await freePort());
  const pki = opts.tls ? (opts.pki ?? makePki(join(dir, 'pki'))) : undefined;
  const lines = [
    'version: 0.1',
    'log: { level: error }',
    'storage:',
    `  filesystem: { rootdirectory: ${storage} }`,
    '  delete: { enabled: true }',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '  headers: { X-Content-Type-Options: [nosniff] }',
  ];
  if (pki) lines.push('  tls:', `    certificate: ${pki.serverCert}`, `    key: ${pki.serverKey}`);
  if (pki && opts.minimumTls) lines.push(`    minimumtls: ${opts.minimumTls}`);
  if (opts.auth) {
    const htpasswd = execFileSync('htpasswd', ['-Bbn', opts.auth.user, opts.auth.password], { encoding: 'utf8' });
    writeFileSync(join(dir, 'htpasswd'), htpasswd);
    lines.push('auth:', '  htpasswd:', '    realm: portcullis-test', `    path: ${join(dir, 'htpasswd')}`);
  }
  if (opts.token) {
    if (opts.auth) throw new Error('startRegistry: give either auth (htpasswd) or token, not both');
    const t = opts.token;
    lines.push(
      'auth:',
      '  token:',
      `    realm: ${JSON.stringify(t.realm)}`,
      `    service: ${JSON.stringify(t.service)}`,
      `    issuer: ${JSON.stringify(t.issuer)}`,
      `    rootcertbundle: ${JSON.stringify(t.rootCertBundle)}`,
    );
  }
  if (opts.notifications) {
    const n = opts.notifications;
    lines.push(
      'notifications:',
      '  endpoints:',
      '    - name: portcullis-test',
      `      url: ${JSON.stringify(n.url)}`,
      `      headers: ${JSON.stringify(n.headers ?? {})}`,
      '      timeout: 2s',
      '      threshold: 1',
      '      backoff: 200ms',
    );
  }
  writeFileSync(join(dir, 'config.yml'), `${lines.join('\n')}\n`);
  let output = '';
  const launch = async (): Promise<ChildProcess> => {
    const c = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'pipe', 'pipe'] });
    c.stdout?.on('data', (b: Buffer) => (output += b.toString()));
    c.stderr?.on('data', (b: Buffer) => (output += b.toString()));
    await waitReady(`${pki ? 'https' : 'http'}://127.0.0.1:${port}/v2/`, c, () => output);
    return c;
  };
  let child = await launch();
  const exited = (c: ChildProcess, signal: NodeJS.Signals) => {
    c.kill(signal);
    return new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(null) : c.once('exit', r)));
  };
  let certDir: string | undefined;
  if (pki) {
    certDir = join(dir, 'certs.d');
    mkdirSync(certDir);
    execFileSync('cp', [pki.caCert, join(certDir, 'ca.crt')]);
  }
  return {
    host: `127.0.0.1:${port}`,
    port,
    dir,
    storage,
    pki,
    auth: opts.auth,
    certDir,
    log: () => output,
    async kill() {
      await exited(child, 'SIGKILL');
    },
    async restart() {
      child = await launch();
    },
    async stop() {
      await exited(child, 'SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Push an image with skopeo (the independent client) to the registry. */
export function skopeoCopy(src: string, reg: TestRegistry, dest: string, extra: string[] = []): void {
  const args = ['copy', '--quiet', ...extra];
  if (reg.certDir) args.push('--dest-cert-dir', reg.certDir);
  else args.push('--dest-tls-verify=false');
  if (reg.auth) args.push('--dest-creds', `${reg.auth.user}:${reg.auth.password}`);
  args.push(src, `docker://${reg.host}/${dest}`);
  execFileSync('skopeo', args, { stdio: 'pipe' });
}
