import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import type http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { cosignBinary, cosignEnv, run, startTrap, type Trap } from '../helpers/cosign.js';
import { type Fault, startFaultProxy } from '../helpers/faultproxy.js';
import {
  type Creds,
  EXAMPLE_DIGEST,
  exampleDb,
  KEY_PASSWORD,
  passingRules,
  reachedPause,
  skopeo,
  skopeoTls,
  spawnCli,
  tags,
  writePolicy,
  writeVariants,
} from '../helpers/gate.js';
import { EXAMPLE } from '../helpers/paths.js';
import { makePki, startRegistry, type TestPki, type TestRegistry } from '../helpers/registry.js';

/**
 * The gate under faults, against real registries: production (a plain-HTTP distribution registry on 127.0.0.1) sits
 * behind a loopback fault proxy that answers 5xx, resets connections after the registry acted, or holds a request
 * while the registry is killed; the process itself is SIGKILLed at the gate's test pause points (no timing); a
 * registry whose storage is a full tmpfs stands for a full disk. After each fault: production holds no tag that names
 * an unsigned or unattested digest, and a rerun converges to the PASS state (cosign verifies).
 */

const STAGE: Creds = { user: 'stage-ci', password: 'St4ge-Pa55-faults' };
const pw = { COSIGN_PASSWORD: KEY_PASSWORD };
const pass: Fault = { kind: 'pass' };

let tmp: string;
let pki: TestPki;
let staging: TestRegistry;
let production: TestRegistry;
let proxy: Awaited<ReturnType<typeof startFaultProxy>>;
let decide: (req: http.IncomingMessage, n: number) => Fault = () => pass;
let db: string;
let key: string;
let policy: string;
let movedDigest: string;
let trap: Trap;
let cosign: string;
let cosignEnvironment: NodeJS.ProcessEnv;

const SOURCE = () => `docker://${staging.host}/team/app:1.0`;

function gateArgs(to: string, extra: string[] = [], source = SOURCE(), insecure = proxy.host): string[] {
  return [
    'gate',
    source,
    '--to',
    to,
    '--policy',
    policy,
    '--key',
    `${key}.key`,
    '--db',
    db,
    '--ca-cert',
    pki.caCert,
    '--src-creds',
    `${STAGE.user}:${STAGE.password}`,
    '--insecure-registry',
    insecure,
    '--retries',
    '2',
    ...extra,
  ];
}

async function digestOf(host: string, ref: string): Promise<string> {
  const raw = await skopeo('inspect', '--raw', '--tls-verify=false', `docker://${host}/${ref}`);
  return `sha256:${createHash('sha256').update(raw).digest('hex')}`;
}

/** Every tag production holds for `repo` (signature tags aside) names a digest signed and attested with the gate key. */
async function noUnsignedTag(repo: string): Promise<string[]> {
  decide = () => pass;
  const named = (await tags(production, repo)).filter((t) => !/^sha256-/.test(t));
  for (const t of named) {
    const digest = await digestOf(production.host, `${repo}:${t}`);
    const v = await runCli([
      'verify',
      `docker://${proxy.host}/${repo}@${digest}`,
      '--key',
      `${key}.pub`,
      '--attestation',
      'assessment',
      '--attestation',
      'cyclonedx',
      '--insecure-registry',
      proxy.host,
    ]);
    expect(v.code, `${repo}:${t} -> ${digest}: ${v.stderr}`).toBe(0);
  }
  return named;
}

/** The PASS state: the tag names the example's digest, and the real cosign verifies signature and assessment. */
async function converged(repo: string): Promise<void> {
  decide = () => pass;
  expect(await digestOf(production.host, `${repo}:1.0`)).toBe(EXAMPLE_DIGEST);
  const ref = `${proxy.host}/${repo}@${EXAMPLE_DIGEST}`;
  const flags = ['--key', `${key}.pub`, '--allow-http-registry', '--insecure-ignore-tlog=true'];
  const v = await run(cosign, ['verify', ...flags, ref], cosignEnvironment);
  expect(v.code, v.stderr).toBe(0);
  const a = await run(
    cosign,
    ['verify-attestation', ...flags, '--type', 'https://portcullis.dev/attestation/assessment/v1', ref],
    cosignEnvironment,
  );
  expect(a.code, a.stderr).toBe(0);
  await noUnsignedTag(repo);
}

async function rerunConverges(repo: string): Promise<void> {
  decide = () => pass;
  const r = await runCli(gateArgs(`${proxy.host}/${repo}`), pw);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toMatch(/Gate: PASS, (promoted|already promoted)/);
  await converged(repo);
}

const isBlobUploadStart = (req: http.IncomingMessage) =>
  req.method === 'POST' && /\/blobs\/uploads\/(\?|$)/.test(req.url ?? '');

beforeAll(async () => {
  cosign = cosignBinary();
  tmp = mkdtempSync(join(tmpdir(), 'portcullis-gate-faults-'));
  pki = makePki(join(tmp, 'pki'));
  trap = await startTrap();
  [staging, production] = await Promise.all([startRegistry({ tls: true, pki, auth: STAGE }), startRegistry()]);
  proxy = await startFaultProxy(production.host, (req, n) => decide(req, n));
  db = await exampleDb(tmp);
  key = join(tmp, 'gate');
  expect((await runCli(['keygen', '--output-key-prefix', key], pw)).code).toBe(0);
  cosignEnvironment = cosignEnv(tmp, trap, readFileSync(`${key}.pub`, 'utf8'));
  policy = writePolicy(tmp, 'production', passingRules());
  const layout = join(tmp, 'variants');
  movedDigest = writeVariants(layout).moved;
  const push = (src: string, dest: string) =>
    skopeo('copy', '--quiet', ...skopeoTls(staging, STAGE, 'dest'), src, `docker://${staging.host}/${dest}`);
  await push(`oci:${EXAMPLE}:latest`, 'team/app:1.0');
  await push(`oci:${layout}:moved`, 'team/moved:1.0');
});

afterAll(async () => {
  await proxy?.stop();
  await Promise.all([staging?.stop(), production?.stop()]);
  await trap?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('gate under registry faults', () => {
  it('5xx on every blob upload: exit 3, nothing tagged; a transient 503 is retried; a rerun converges', async () => {
    const repo = 'prod/http-500';
    decide = (req) => (isBlobUploadStart(req) ? { kind: 'status', status: 500 } : pass);
    const r = await runCli(gateArgs(`${proxy.host}/${repo}`), pw);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^portcullis: PUSH_FAILED: .*HTTP 500/m);
    expect(await noUnsignedTag(repo)).toEqual([]);
    expect(await tags(production, repo)).toEqual([]);
    await rerunConverges(repo);

    // One 503 per upload start, then the registry answers: the retries carry the gate through in one run.
    const repo2 = 'prod/http-503';
    const failed = new Set<string>();
    decide = (req) => {
      if (!isBlobUploadStart(req) || failed.size >= 2) return pass;
      failed.add(`${req.url}#${failed.size}`);
      return { kind: 'status', status: 503, headers: { 'retry-after': '0' } };
    };
    const ok = await runCli(gateArgs(`${proxy.host}/${repo2}`), pw);
    expect(ok.code, ok.stderr).toBe(0);
    expect(failed.size).toBe(2);
    await converged(repo2);
  });

  it('connection reset after the registry acted: a blob commit converges in one run; a manifest PUT fails (3), then converges', async () => {
    const repo = 'prod/reset-blob';
    let resets = 0;
    // The registry commits the blob, the client never hears: its retry finds the session gone and the blob there.
    decide = (req) =>
      req.method === 'PUT' && /\/blobs\/uploads\/.*digest=/.test(req.url ?? '') && resets++ < 3
        ? { kind: 'drop-response' }
        : pass;
    const r = await runCli(gateArgs(`${proxy.host}/${repo}`), pw);
    expect(r.code, r.stderr).toBe(0);
    expect(resets).toBeGreaterThan(0);
    await converged(repo);

    const repo2 = 'prod/reset-manifest';
    decide = (req) =>
      req.method === 'PUT' && req.url === `/v2/${repo2}/manifests/${EXAMPLE_DIGEST}` ? { kind: 'drop-response' } : pass;
    const failed = await runCli(gateArgs(`${proxy.host}/${repo2}`), pw);
    expect(failed.code).toBe(3);
    expect(failed.stderr).toMatch(/^portcullis: NETWORK: /m);
    // The manifest landed by digest, untagged; nothing names it.
    expect(await digestOf(production.host, `${repo2}@${EXAMPLE_DIGEST}`)).toBe(EXAMPLE_DIGEST);
    expect(await noUnsignedTag(repo2)).toEqual([]);
    await rerunConverges(repo2);
  });

  it('the registry stops mid-copy: exit 3, nothing tagged; after a restart a rerun converges', async () => {
    const repo = 'prod/registry-down';
    let release: () => void = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    let reached: () => void = () => {};
    const atSecondBlob = new Promise<void>((r) => {
      reached = r;
    });
    let uploads = 0;
    decide = (req) => {
      if (!isBlobUploadStart(req) || ++uploads !== 2) return pass;
      reached();
      return { kind: 'hold', until: held };
    };
    const gate = runCli(gateArgs(`${proxy.host}/${repo}`), pw);
    await atSecondBlob;
    await production.kill();
    release();
    const r = await gate;
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^portcullis: (NETWORK|PUSH_FAILED): /m);
    await production.restart();
    expect(await noUnsignedTag(repo)).toEqual([]);
    await rerunConverges(repo);
  });
});

describe('gate: what production serves back must verify before the tag moves', () => {
  it('blobs read back altered: GATE_UNVERIFIED (3), signature written but no tag; a rerun converges', async () => {
    const repo = 'prod/readback';
    // Production's blobs are only ever read back after signing (the copy checks presence with HEAD).
    decide = (req) =>
      req.method === 'GET' && req.url?.startsWith(`/v2/${repo}/blobs/`) ? { kind: 'tamper', offset: 0 } : pass;
    const r = await runCli(gateArgs(`${proxy.host}/${repo}`), pw);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^portcullis: GATE_UNVERIFIED: .*does not verify .*; not tagging/m);
    const sha = EXAMPLE_DIGEST.slice(7);
    expect(await tags(production, repo)).toEqual([`sha256-${sha}.att`, `sha256-${sha}.sig`]);
    await rerunConverges(repo);
  });
});

describe('gate killed (SIGKILL) at its pause points', () => {
  const cases = [
    { step: 'copy', tagsAtPause: (_sha: string) => [] as string[] },
    { step: 'sign', tagsAtPause: (sha: string) => [`sha256-${sha}.sig`] },
    { step: 'attest', tagsAtPause: (sha: string) => [`sha256-${sha}.att`, `sha256-${sha}.sig`] },
  ];
  for (const c of cases) {
    it(`between ${c.step} and tag: nothing names an unsigned digest; a rerun converges`, async () => {
      const repo = `prod/kill-after-${c.step}`;
      const pause = join(tmp, `pause-${c.step}`);
      decide = () => pass;
      const proc = spawnCli(gateArgs(`${proxy.host}/${repo}`), {
        ...pw,
        PORTCULLIS_GATE_TEST_PAUSE: `after-${c.step}`,
        PORTCULLIS_GATE_TEST_PAUSE_FILE: pause,
      });
      if (!(await reachedPause(pause, proc)))
        throw new Error(`the gate ended before the pause: ${(await proc.done).stderr}`);
      // The image is in production by digest; only the signature tags the step wrote exist, no production tag.
      expect(await digestOf(production.host, `${repo}@${EXAMPLE_DIGEST}`)).toBe(EXAMPLE_DIGEST);
      expect(await tags(production, repo)).toEqual(c.tagsAtPause(EXAMPLE_DIGEST.slice(7)));
      proc.child.kill('SIGKILL');
      const killed = await proc.done;
      expect(killed.signal).toBe('SIGKILL');
      unlinkSync(pause);
      expect(await noUnsignedTag(repo)).toEqual([]);
      await rerunConverges(repo);
    });
  }

  it('with an older promotion under the tag: killed after signing the new digest, the tag still names the old, signed one', async () => {
    const repo = 'prod/kill-moving';
    decide = () => pass;
    const first = await runCli(
      gateArgs(`${proxy.host}/${repo}:1.0`, [], `docker://${staging.host}/team/moved:1.0`),
      pw,
    );
    expect(first.code, first.stderr).toBe(0);
    expect(await digestOf(production.host, `${repo}:1.0`)).toBe(movedDigest);
    const pause = join(tmp, 'pause-moving');
    const proc = spawnCli(gateArgs(`${proxy.host}/${repo}`), {
      ...pw,
      PORTCULLIS_GATE_TEST_PAUSE: 'after-sign',
      PORTCULLIS_GATE_TEST_PAUSE_FILE: pause,
    });
    expect(await reachedPause(pause, proc)).toBe(true);
    proc.child.kill('SIGKILL');
    await proc.done;
    unlinkSync(pause);
    expect(await digestOf(production.host, `${repo}:1.0`)).toBe(movedDigest);
    expect(await noUnsignedTag(repo)).toEqual(['1.0']);
    await rerunConverges(repo);
  });

  it('a pause point that is let go runs on to the end (the hook only delays)', async () => {
    const repo = 'prod/pause-released';
    const pause = join(tmp, 'pause-released');
    decide = () => pass;
    const proc = spawnCli(gateArgs(`${proxy.host}/${repo}`), {
      ...pw,
      PORTCULLIS_GATE_TEST_PAUSE: 'after-attest',
      PORTCULLIS_GATE_TEST_PAUSE_FILE: pause,
    });
    expect(await reachedPause(pause, proc)).toBe(true);
    unlinkSync(pause);
    const r = await proc.done;
    expect(r.code, r.stderr).toBe(0);
    await converged(repo);
  });
});

describe('gate against a registry whose disk is full', () => {
  it('a full tmpfs under production storage: exit 3, nothing tagged; with space again a rerun converges', async () => {
    // The registry's storage is a 1 MiB tmpfs that a filler file takes whole (mounting needs root, as the setup runs).
    const full = await startRegistry();
    mkdirSync(full.storage, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', full.storage]);
    const filler = join(full.storage, 'filler');
    try {
      try {
        execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=4k'], { stdio: 'ignore' });
      } catch {
        // dd stops with ENOSPC: that is the point
      }
      expect(existsSync(filler)).toBe(true);
      const to = `${full.host}/prod/app`;
      const r = await runCli(gateArgs(to, [], SOURCE(), full.host), pw);
      expect(r.code, r.stdout).toBe(3);
      expect(r.stderr).toMatch(/^portcullis: PUSH_FAILED: .*HTTP 5\d\d/m);
      expect(await tags(full, 'prod/app')).toEqual([]);
      unlinkSync(filler);
      const again = await runCli(gateArgs(to, [], SOURCE(), full.host), pw);
      expect(again.code, again.stderr).toBe(0);
      expect(await digestOf(full.host, 'prod/app:1.0')).toBe(EXAMPLE_DIGEST);
      const v = await run(
        cosign,
        [
          'verify',
          '--key',
          `${key}.pub`,
          '--allow-http-registry',
          '--insecure-ignore-tlog=true',
          `${to}@${EXAMPLE_DIGEST}`,
        ],
        cosignEnvironment,
      );
      expect(v.code, v.stderr).toBe(0);
    } finally {
      await full.kill();
      execFileSync('umount', [full.storage]);
      await full.stop();
    }
  });

  it('cosign never reached beyond loopback: the proxy trap saw no connection', () => {
    expect(trap.connections()).toBe(0);
  });
});
