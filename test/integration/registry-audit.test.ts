import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { EXAMPLE } from '../helpers/paths.js';
import { freePort, makePki, skopeoCopy, startRegistry, type TestPki, type TestRegistry } from '../helpers/registry.js';
import { startTokenServer, type TokenServer } from '../helpers/tokenserver.js';

const USER = 'auditor';
const PASSWORD = 'Audit-Pa55-never-print-me';

interface Audit {
  readonly code: number;
  readonly ids: string[];
  readonly json: {
    findings: { ruleId: string; message: string; severity: string }[];
    notChecked: { ruleId: string; reason: string }[];
    passed: string[];
    tls: { protocol?: string };
    repository: { name: string; from: string } | null;
  };
  readonly stderr: string;
}

async function audit(host: string, ...args: string[]): Promise<Audit> {
  const r = await runCli(['registry', 'audit', host, '-f', 'json', ...args]);
  if (!r.stdout) throw new Error(`no output (exit ${r.code}): ${r.stderr}`);
  const json = JSON.parse(r.stdout) as Audit['json'];
  return { code: r.code, ids: json.findings.map((f) => f.ruleId).sort(), json, stderr: r.stderr };
}

/** openssl s_client as the independent oracle: the protocol it negotiated, or undefined when the handshake failed. */
function opensslProtocol(port: number, flag: '-tls1' | '-tls1_1' | '-tls1_2'): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const c = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, flag, '-cipher', 'DEFAULT@SECLEVEL=0'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    c.stdout.on('data', (b: Buffer) => (out += b.toString()));
    c.on('error', reject);
    c.on('close', () => {
      const cipher = /Cipher is (\S+)/.exec(out)?.[1];
      const protocol = /Protocol\s*:\s*(\S+)/.exec(out)?.[1];
      resolve(cipher && cipher !== '(NONE)' ? protocol : undefined);
    });
    c.stdin.end();
  });
}

/** Every file or directory left under an `_uploads` directory of the registry's storage. */
function uploadsLeft(reg: TestRegistry): string[] {
  const all = readdirSync(reg.storage, { recursive: true }) as string[];
  return all.filter((p) => /(^|\/)_uploads\/./.test(p));
}

let tmp: string;
let pki: TestPki;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'portcullis-audit-'));
  pki = makePki(join(tmp, 'pki'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('a correctly configured registry (TLS, htpasswd)', () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry({ tls: true, pki, auth: { user: USER, password: PASSWORD } });
    skopeoCopy(`oci:${EXAMPLE}:latest`, reg, 'team/app:1.0');
  });
  afterAll(() => reg.stop());

  it('gives no findings and exits 0; the token probe says why it did not run', async () => {
    // The test CA's certificates live two days: a one-day horizon keeps cert-expiring out of this case.
    const a = await audit(
      reg.host,
      '--ca-cert',
      pki.caCert,
      '--creds',
      `${USER}:${PASSWORD}`,
      '--expiry-warning',
      '1d',
    );
    expect(a.ids).toEqual([]);
    expect(a.code).toBe(0);
    expect(a.json.repository).toEqual({ name: 'team/app', from: 'catalog' });
    expect(a.json.passed).toEqual(
      expect.arrayContaining(['plain-http', 'cert-untrusted', 'anonymous-pull', 'anonymous-push', 'anonymous-delete']),
    );
    expect(a.json.notChecked.map((n) => n.ruleId)).toEqual(['token-scope-broader']);
    expect(a.json.notChecked[0]?.reason).toMatch(/does not use Bearer tokens/);
    expect(a.stderr + JSON.stringify(a.json)).not.toContain(PASSWORD);
  });

  it('with the default 30-day horizon, the two-day test certificate is cert-expiring', async () => {
    const a = await audit(reg.host, '--ca-cert', pki.caCert, '--creds', `${USER}:${PASSWORD}`);
    expect(a.ids).toEqual(['cert-expiring']);
    expect(a.code).toBe(1);
  });

  it('without the CA, the certificate is cert-untrusted (and no credentials are sent to it)', async () => {
    const a = await audit(reg.host, '--creds', `${USER}:${PASSWORD}`, '--expiry-warning', '1d');
    expect(a.ids).toEqual(['cert-untrusted']);
    expect(a.json.findings[0]?.message).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|unable to verify/i);
    // The catalog listing with credentials needs verified TLS: the pull probe has no repository.
    expect(a.json.notChecked.map((n) => n.ruleId).sort()).toEqual(['anonymous-pull', 'token-scope-broader']);
  });
});

describe('a plain-HTTP registry', () => {
  let open: TestRegistry;
  let closed: TestRegistry;
  beforeAll(async () => {
    open = await startRegistry({});
    skopeoCopy(`oci:${EXAMPLE}:latest`, open, 'team/app:1.0');
    closed = await startRegistry({ auth: { user: USER, password: PASSWORD } });
  });
  afterAll(async () => {
    await open.stop();
    await closed.stop();
  });

  it('without auth: plain-http and every anonymous rule; the storage is left as it was', async () => {
    const before = readdirSync(open.storage, { recursive: true }).sort();
    const a = await audit(open.host);
    expect(a.ids).toEqual(['anonymous-catalog', 'anonymous-delete', 'anonymous-pull', 'anonymous-push', 'plain-http']);
    expect(a.code).toBe(1);
    expect(a.json.findings.find((f) => f.ruleId === 'anonymous-push')?.message).toMatch(
      /PATCH .* BLOB_UPLOAD_(UNKNOWN|INVALID)/,
    );
    expect(uploadsLeft(open)).toEqual([]);
    expect(readdirSync(open.storage, { recursive: true }).sort()).toEqual(before);
  });

  it('with htpasswd: plain-http and credentials-over-http, no anonymous access', async () => {
    const a = await audit(closed.host, '--creds', `${USER}:${PASSWORD}`, '--repository', 'team/app');
    expect(a.ids).toEqual(['credentials-over-http', 'plain-http']);
    expect(a.json.passed).toEqual(
      expect.arrayContaining(['anonymous-catalog', 'anonymous-pull', 'anonymous-push', 'anonymous-delete']),
    );
    // Only the deliberately invalid credential reached the plain-HTTP registry (it logs the failed user), and no
    // request of the audit was ever authenticated (every access-log line of ours is a 401).
    const log = closed.log();
    expect(log).toContain('error authenticating user \\"portcullis-audit-probe\\"');
    expect(log).not.toContain(USER);
    const ours = log.split('\n').filter((l) => l.includes('"portcullis-audit/'));
    expect(ours.length).toBeGreaterThan(3);
    expect(ours.filter((l) => !/" 401 \d+ /.test(l))).toEqual([]);
  });

  it('--exit-code 0 and --severity filter what fails the run', async () => {
    expect((await audit(open.host, '--exit-code', '0')).code).toBe(0);
    const crit = await audit(open.host, '--severity', 'critical', '--exit-code', '4');
    expect(crit.ids).toEqual(['anonymous-push']);
    expect(crit.code).toBe(4);
  });
});

describe('a TLS registry without auth', () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry({ tls: true, pki });
    skopeoCopy(`oci:${EXAMPLE}:latest`, reg, 'team/app:1.0');
  });
  afterAll(() => reg.stop());

  it('gives anonymous catalog, pull, push and delete, and leaves nothing behind', async () => {
    const before = readdirSync(reg.storage, { recursive: true }).sort();
    const a = await audit(reg.host, '--ca-cert', pki.caCert, '--expiry-warning', '1d');
    expect(a.ids).toEqual(['anonymous-catalog', 'anonymous-delete', 'anonymous-pull', 'anonymous-push']);
    expect(a.json.findings.find((f) => f.ruleId === 'anonymous-delete')?.message).toMatch(/MANIFEST_UNKNOWN/);
    expect(uploadsLeft(reg)).toEqual([]);
    // The storage holds exactly what it held: no repository, upload, link or blob was added or removed.
    expect(readdirSync(reg.storage, { recursive: true }).sort()).toEqual(before);
  });

  it('SARIF carries the posture rules with their help', async () => {
    const r = await runCli([
      'registry',
      'audit',
      reg.host,
      '--ca-cert',
      pki.caCert,
      '-f',
      'sarif',
      '--expiry-warning',
      '1d',
    ]);
    const sarif = JSON.parse(r.stdout);
    const rules = sarif.runs[0].tool.driver.rules as { id: string; help: { text: string } }[];
    expect(rules.map((x) => x.id).sort()).toEqual([
      'anonymous-catalog',
      'anonymous-delete',
      'anonymous-pull',
      'anonymous-push',
    ]);
    expect(rules.find((x) => x.id === 'anonymous-push')?.help.text).toMatch(/Remediation: /);
    expect(sarif.runs[0].results[0].locations[0].physicalLocation.artifactLocation.uri).toMatch(/^127\.0\.0\.1%3A\d+/);
  });
});

describe('certificates', () => {
  let regs: TestRegistry[] = [];
  afterAll(async () => {
    for (const r of regs) await r.stop();
  });
  async function withPki(p: TestPki): Promise<TestRegistry> {
    const r = await startRegistry({ tls: true, pki: p, auth: { user: USER, password: PASSWORD } });
    regs = [...regs, r];
    return r;
  }

  it('an expired certificate is cert-expired', async () => {
    const p = makePki(join(tmp, 'expired'), { serverValidity: { start: '20200101000000Z', end: '20200201000000Z' } });
    const a = await audit((await withPki(p)).host, '--ca-cert', p.caCert);
    expect(a.ids).toEqual(['cert-expired']);
    expect(a.json.findings[0]?.message).toContain('2020-02-01');
  });

  it('a certificate valid only from 2090 is cert-not-yet-valid', async () => {
    const p = makePki(join(tmp, 'future'), { serverValidity: { start: '20900101000000Z', end: '20910101000000Z' } });
    const a = await audit((await withPki(p)).host, '--ca-cert', p.caCert);
    expect(a.ids).toEqual(['cert-not-yet-valid']);
  });

  it('a certificate for another name is cert-hostname-mismatch', async () => {
    const p = makePki(join(tmp, 'othername'), { serverNames: ['DNS:registry.example.test'] });
    const a = await audit((await withPki(p)).host, '--ca-cert', p.caCert, '--expiry-warning', '1d');
    expect(a.ids).toEqual(['cert-hostname-mismatch']);
    expect(a.json.findings[0]?.message).toContain('registry.example.test');
  });

  it('a certificate from another CA is cert-untrusted', async () => {
    const other = makePki(join(tmp, 'other-ca'));
    const a = await audit((await withPki(pki)).host, '--ca-cert', other.caCert, '--expiry-warning', '1d');
    expect(a.ids).toEqual(['cert-untrusted']);
  });
});

describe('old TLS protocol versions', () => {
  let legacy: TestRegistry;
  let backend: TestRegistry;
  let proxy: TlsServer;
  let proxyPort: number;
  beforeAll(async () => {
    legacy = await startRegistry({ tls: true, pki, auth: { user: USER, password: PASSWORD }, minimumTls: 'tls1.0' });
    // A TLS-terminating proxy that allows TLS 1.0, in front of a registry that requires auth: a common deployment.
    backend = await startRegistry({ auth: { user: USER, password: PASSWORD } });
    proxyPort = await freePort();
    proxy = createTlsServer(
      {
        key: readFileSync(pki.serverKey),
        cert: readFileSync(pki.serverCert),
        minVersion: 'TLSv1',
        ciphers: 'DEFAULT@SECLEVEL=0',
      },
      (client) => {
        const up = netConnect(backend.port, '127.0.0.1');
        client.pipe(up).pipe(client);
        const end = () => {
          client.destroy();
          up.destroy();
        };
        client.on('error', end);
        up.on('error', end);
      },
    );
    proxy.on('tlsClientError', () => {});
    await new Promise<void>((r) => proxy.listen(proxyPort, '127.0.0.1', r));
  });
  afterAll(async () => {
    await new Promise((r) => proxy.close(r));
    await legacy.stop();
    await backend.stop();
  });

  it('a proxy accepting TLS 1.0 and 1.1 is tls-old-protocol; openssl s_client negotiates the same', async () => {
    const a = await audit(`127.0.0.1:${proxyPort}`, '--ca-cert', pki.caCert, '--expiry-warning', '1d');
    expect(a.ids).toEqual(['tls-old-protocol']);
    expect(a.json.findings[0]?.message).toContain('TLSv1 and TLSv1.1');
    expect(await opensslProtocol(proxyPort, '-tls1')).toBe('TLSv1');
    expect(await opensslProtocol(proxyPort, '-tls1_1')).toBe('TLSv1.1');
  });

  it('distribution 2.8.2 with minimumtls tls1.0 still completes no TLS 1.0 handshake (GCM-only suites); openssl agrees', async () => {
    const a = await audit(legacy.host, '--ca-cert', pki.caCert, '--expiry-warning', '1d');
    expect(a.ids).toEqual([]);
    expect(await opensslProtocol(legacy.port, '-tls1')).toBeUndefined();
    expect(await opensslProtocol(legacy.port, '-tls1_1')).toBeUndefined();
    expect(await opensslProtocol(legacy.port, '-tls1_2')).toBe('TLSv1.2');
  });
});

describe('token auth', () => {
  let tokens: TokenServer;
  let reg: TestRegistry;
  beforeAll(async () => {
    tokens = await startTokenServer({
      pki,
      service: 'portcullis-audit-registry',
      users: { [USER]: PASSWORD },
      policy: (subject) => (subject === USER ? ['pull', 'push', 'delete'] : []),
    });
    reg = await startRegistry({ tls: true, pki, token: tokens });
  });
  afterAll(async () => {
    await reg.stop();
    await tokens.stop();
  });

  it('a token service that grants only what is asked passes; one that grants push and delete for pull is a finding', async () => {
    const args = ['--ca-cert', pki.caCert, '--creds', `${USER}:${PASSWORD}`, '--repository', 'team/app'];
    const good = await audit(reg.host, ...args, '--expiry-warning', '1d');
    expect(good.ids).toEqual([]);
    expect(good.json.passed).toContain('token-scope-broader');
    tokens.setOvergrant(true);
    try {
      const bad = await audit(reg.host, ...args, '--expiry-warning', '1d');
      expect(bad.ids).toEqual(['token-scope-broader']);
      expect(bad.json.findings[0]?.message).toContain('repository:team/app:delete,push');
    } finally {
      tokens.setOvergrant(false);
    }
    // The credential went only to the token service over TLS, and anonymous probes asked for tokens without one.
    const withCreds = tokens.requests.filter((r) => r.authorization !== undefined);
    expect(withCreds.map((r) => r.scopes)).toEqual([['repository:team/app:pull'], ['repository:team/app:pull']]);
  });

  it("asks for the token with the auth file's entry for the repository, as a client pulling it would", async () => {
    // containers-auth.json(5): the most specific entry wins. Another team's entry on the same host is not used.
    const authFile = join(tmp, 'scoped-auth.json');
    const basic = (u: string, p: string) => ({ auth: Buffer.from(`${u}:${p}`).toString('base64') });
    writeFileSync(
      authFile,
      JSON.stringify({
        auths: { [`${reg.host}/other`]: basic('other', 'x'), [`${reg.host}/team`]: basic(USER, PASSWORD) },
      }),
    );
    const before = tokens.requests.length;
    const a = await audit(reg.host, '--ca-cert', pki.caCert, '--authfile', authFile, '--repository', 'team/app');
    expect(a.json.passed).toContain('token-scope-broader');
    const withCreds = tokens.requests.slice(before).filter((r) => r.authorization !== undefined);
    expect(withCreds.map((r) => r.scopes)).toEqual([['repository:team/app:pull']]);
  });
});

describe('a man in the middle after the certificate probe', () => {
  it('gets no credentials: the challenge naming the token realm is read over verified TLS too', async () => {
    // A proxy passes the first TLS connection (the audit's certificate probe) to a genuine registry and answers every
    // later one itself, with a certificate no CA given vouches for, naming a realm the client would trust.
    const evilPki = makePki(join(tmp, 'evil-pki'));
    const { createServer: createHttps } = await import('node:https');
    const { createServer: createNet } = await import('node:net');
    const stolen: string[] = [];
    const collector = createHttps({ key: readFileSync(pki.serverKey), cert: readFileSync(pki.serverCert) }, (q, r) => {
      stolen.push(q.headers.authorization ?? '-');
      r.writeHead(200, { 'content-type': 'application/json' }).end('{"token":"x"}');
    });
    const collectorPort = await freePort();
    await new Promise<void>((ok) => collector.listen(collectorPort, '127.0.0.1', ok));
    const evil = createHttps(
      { key: readFileSync(evilPki.serverKey), cert: readFileSync(evilPki.serverCert) },
      (_q, r) => {
        r.writeHead(401, {
          'www-authenticate': `Bearer realm="https://127.0.0.1:${collectorPort}/steal",service="reg"`,
        });
        r.end();
      },
    );
    const evilPort = await freePort();
    await new Promise<void>((ok) => evil.listen(evilPort, '127.0.0.1', ok));
    const genuine = await startRegistry({ tls: true, pki, auth: { user: USER, password: PASSWORD } });
    let tls = 0;
    const proxy = createNet((c) =>
      c.once('data', (first: Buffer) => {
        const to = first[0] !== 0x16 ? evilPort : tls++ === 0 ? Number(genuine.host.split(':')[1]) : evilPort;
        const up = netConnect(to, '127.0.0.1', () => {
          up.write(first);
          c.pipe(up).pipe(c);
        });
        up.on('error', () => c.destroy());
        c.on('error', () => up.destroy());
      }),
    );
    const proxyPort = await freePort();
    await new Promise<void>((ok) => proxy.listen(proxyPort, '127.0.0.1', ok));
    try {
      const a = await audit(
        `127.0.0.1:${proxyPort}`,
        '--ca-cert',
        pki.caCert,
        '--creds',
        `${USER}:${PASSWORD}`,
        '--repository',
        'team/app',
      );
      // Anonymous probes follow the realm (so the man in the middle was in place), never with a credential.
      expect(stolen.length).toBeGreaterThan(0);
      expect(stolen.filter((h) => h !== '-')).toEqual([]);
      expect(a.json.notChecked.find((n) => n.ruleId === 'token-scope-broader')?.reason).toBeDefined();
      expect(`${a.stderr}${JSON.stringify(a.json)}`).not.toContain(PASSWORD);
    } finally {
      proxy.close();
      evil.close();
      collector.close();
      await genuine.stop();
    }
  });
});

describe('unreachable', () => {
  it('exits 3 when nothing answers, TLS or plain HTTP', async () => {
    const port = await freePort();
    const r = await runCli(['registry', 'audit', `127.0.0.1:${port}`, '--timeout', '5s']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/NETWORK: 127\.0\.0\.1:\d+: no registry answered/);
  });
});
