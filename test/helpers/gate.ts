import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { type CliResult, runCli } from './cli.js';
import { LayoutWriter } from './oci.js';
import { CLI, EXAMPLE, ROOT } from './paths.js';
import type { TestRegistry } from './registry.js';

/** Shared pieces of the gate tests (not a test file itself). */

export const KEY_PASSWORD = 'gate key password';
/** The example image's bottom layer (its config's rootfs.diff_ids[0]). */
export const BASE_DIFF_ID = 'sha256:5546b83ac01747ffec93b0899c33d388baa7e05f12574a948b40818fab2032b4';
/** The example image's manifest digest (examples/debian-app/layout index.json). */
export const EXAMPLE_DIGEST = 'sha256:8cdbc04d4c8e3cde883c82e1344cf49c17da3af3701d3c03a5bd01ef75a8fcf0';
export const EXAMPLE_BLOBS = [
  EXAMPLE_DIGEST,
  'sha256:48554786664702d25d01bd38f118642e20cb2bfb265be38df2992fda7c33e6d9',
  'sha256:45b1629a6af138f44fa184f7e77af696de35d3422aced8c51c66b1b152fd2748',
  'sha256:05d43b15345f7c97e8e97babd22fc6b2d1d958f7610cfbee59bbb7087f24cfe0',
];

export interface Creds {
  readonly user: string;
  readonly password: string;
}

export const execFileP = promisify(execFile);

/** skopeo, asynchronously (a registry or proxy may live in this process). */
export async function skopeo(...args: string[]): Promise<string> {
  const { stdout } = await execFileP('skopeo', args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

/** skopeo's flags to reach a registry: the test CA and credentials, or plain HTTP. */
export function skopeoTls(reg: TestRegistry, creds: Creds | undefined, side: 'src' | 'dest' | ''): string[] {
  const p = side ? `--${side}-` : '--';
  if (!reg.certDir) return [`${p}tls-verify=false`];
  return [`${p}cert-dir`, reg.certDir, ...(creds ? [`${p}creds`, `${creds.user}:${creds.password}`] : [])];
}

/** A policy file from the YAML under `rules:`. */
export function writePolicy(dir: string, name: string, rulesYaml: string): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, `apiVersion: portcullis.dev/v1alpha1\nkind: ImagePolicy\nname: ${name}\nrules:\n${rulesYaml}`);
  return file;
}

/**
 * The policy the example image passes: minimist (critical) ignored with a reason; the base by its layer (or the
 * given `baseImage` YAML, indented under it, instead); no secret, no empty password, no unverified install.
 */
export function passingRules(baseImage?: string): string {
  const base =
    baseImage ?? ['    approved:', '      - name: example-base', `        layers: [${BASE_DIFF_ID}]`].join('\n');
  return [
    '  vulnerabilities:',
    '    failOn: critical',
    '    packages:',
    '      - package: pkg:npm/minimist',
    '        ignore: true',
    '        reason: dev-only dependency',
    '  baseImage:',
    base,
    '  labels:',
    '    - key: org.opencontainers.image.title',
    '      value: portcullis-.*',
    '  secrets:',
    '    failOn: high',
    '  misconfigurations:',
    '    fail: [empty-password, setuid-setgid]',
    '',
  ].join('\n');
}

/** Import the example advisories into a fresh database. */
export async function exampleDb(dir: string): Promise<string> {
  const db = join(dir, 'advisories.db');
  const r = await runCli(['db', 'import', join(ROOT, 'examples', 'advisories'), '--db', db, '-q']);
  if (r.code !== 0) throw new Error(`db import failed: ${r.stderr}`);
  return db;
}

/**
 * The advisory update: GitHub's advisory GHSA-34jh-p97f-mpxf (CVE-2024-37891, published 2024-06-17): urllib3 before
 * 1.26.19 (and 2.x before 2.2.2) keeps the Proxy-Authorization header on cross-origin redirects. The example image
 * has urllib3 1.26.5, and the example advisories do not include this record. Facts as GitHub publishes them
 * (CC-BY-4.0), details and references left out.
 */
const URLLIB3_UPDATE = {
  schema_version: '1.4.0',
  id: 'GHSA-34jh-p97f-mpxf',
  modified: '2024-12-18T22:20:24Z',
  published: '2024-06-17T21:37:20Z',
  aliases: ['CVE-2024-37891'],
  summary: "urllib3's Proxy-Authorization request header isn't stripped during cross-origin redirects",
  severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:H/PR:H/UI:N/S:U/C:H/I:N/A:N' }],
  affected: [
    {
      package: { ecosystem: 'PyPI', name: 'urllib3' },
      ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '1.26.19' }] }],
    },
    {
      package: { ecosystem: 'PyPI', name: 'urllib3' },
      ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '2.0.0' }, { fixed: '2.2.2' }] }],
    },
  ],
  database_specific: { cwe_ids: ['CWE-669'], github_reviewed: true, severity: 'MODERATE' },
};

/** Import the urllib3 advisory (a real update the example advisories lack) into the database at `db`. */
export async function importUrllib3Update(dir: string, db: string): Promise<void> {
  const at = mkdtempSync(join(dir, 'update-'));
  writeFileSync(join(at, 'GHSA-34jh-p97f-mpxf.json'), JSON.stringify(URLLIB3_UPDATE));
  const r = await runCli(['db', 'import', at, '--db', db, '-q']);
  if (r.code !== 0) throw new Error(`db import failed: ${r.stderr}`);
}

/** A GET on the registry API with the test CA and credentials (node:https, not Portcullis): status and JSON. */
export function registryGet(
  reg: TestRegistry,
  path: string,
  creds?: Creds,
): Promise<{ status: number; body: unknown }> {
  if (!reg.pki) return plainGet(reg.host, path);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: reg.port,
        path,
        ca: readFileSync(reg.pki?.caCert as string),
        headers: creds
          ? { authorization: `Basic ${Buffer.from(`${creds.user}:${creds.password}`).toString('base64')}` }
          : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            // not JSON
          }
          resolve({ status: res.statusCode ?? 0, body });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function plainGet(host: string, path: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`http://${host}${path}`);
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) };
  } catch {
    return { status: res.status, body: text };
  }
}

/** The repositories the registry's catalog lists. */
export async function catalog(reg: TestRegistry, creds?: Creds): Promise<string[]> {
  const r = await registryGet(reg, '/v2/_catalog', creds);
  if (r.status !== 200) throw new Error(`catalog: HTTP ${r.status}`);
  return ((r.body as { repositories?: string[] }).repositories ?? []).sort();
}

/** The tags of a repository, [] when the registry does not know it. */
export async function tags(reg: TestRegistry, repo: string, creds?: Creds): Promise<string[]> {
  const r = await registryGet(reg, `/v2/${repo}/tags/list`, creds);
  if (r.status === 404) return [];
  if (r.status !== 200) throw new Error(`tags: HTTP ${r.status}`);
  return ((r.body as { tags?: string[] | null }).tags ?? []).sort();
}

/** Every blob digest in the registry's storage, read from disk (the filesystem driver's layout). */
export function storedBlobs(reg: TestRegistry): string[] {
  const root = join(reg.storage, 'docker', 'registry', 'v2', 'blobs', 'sha256');
  if (!existsSync(root)) return [];
  const out: string[] = [];
  for (const prefix of readdirSync(root)) {
    for (const hex of readdirSync(join(root, prefix))) {
      if (existsSync(join(root, prefix, hex, 'data'))) out.push(`sha256:${hex}`);
    }
  }
  return out.sort();
}

/** A running CLI process, for tests that stop it at a pause point. */
export interface CliProcess {
  readonly child: ChildProcess;
  readonly done: Promise<CliResult & { signal: NodeJS.Signals | null }>;
}

/** Start the built CLI without waiting for it. */
export function spawnCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): CliProcess {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout?.on('data', (c: Buffer) => out.push(c));
  child.stderr?.on('data', (c: Buffer) => err.push(c));
  const done = new Promise<CliResult & { signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolve({
        code: code ?? -1,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      }),
    );
  });
  return { child, done };
}

/**
 * Wait until `file` exists (the gate's test pause point) or the process ends first; no timing involved beyond the
 * poll. Returns false when the process ended without reaching the pause.
 */
export async function reachedPause(file: string, proc: CliProcess): Promise<boolean> {
  let ended = false;
  void proc.done.then(() => {
    ended = true;
  });
  while (!existsSync(file)) {
    if (ended) return existsSync(file);
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

/** Access-log lines of a registry (method, path, status) written since `from`, auth challenges left out. */
export function requests(reg: TestRegistry, from: number): string[] {
  return [
    ...reg
      .log()
      .slice(from)
      .matchAll(/"([A-Z]+) (\S+) HTTP\/1\.1" (\d+)/g),
  ]
    .map((m) => `${m[1]} ${m[2]} ${m[3]}`)
    .filter((l) => !l.endsWith(' 401'));
}

/** The writes among them. */
export const writes = (lines: readonly string[]): string[] => lines.filter((l) => /^(POST|PUT|PATCH|DELETE) /.test(l));

/** The example image's layers, uncompressed: the base layer, then the app layer. */
export function exampleTars(): [Buffer, Buffer] {
  const blob = (d: string) => gunzipSync(readFileSync(join(EXAMPLE, 'blobs', 'sha256', d.slice(7))));
  return [blob(EXAMPLE_BLOBS[2] as string), blob(EXAMPLE_BLOBS[3] as string)];
}

/**
 * A layout with images built from the example's own layers (so the example advisories and policy apply): `base` (the
 * bottom layer alone, an approved base to sign), `moved` (the example with another label: a new digest) and `multi`
 * (a two-platform index of the example). Returns their digests.
 */
export function writeVariants(dir: string): {
  base: string;
  moved: string;
  multi: string;
  children: string[];
  attestation: string;
  disguised: string;
  unassessed: string;
  smuggled: string;
  nested: string;
} {
  const w = new LayoutWriter(dir);
  const [baseTar, appTar] = exampleTars();
  const labels = (extra: Record<string, string>) => ({
    created: '2023-11-14T22:13:20Z',
    config: { Labels: { 'org.opencontainers.image.title': 'portcullis-example', ...extra } },
  });
  const base = w.image([baseTar], { config: labels({}) });
  const moved = w.image([baseTar, appTar], { config: labels({ 'org.opencontainers.image.revision': 'moved' }) });
  const amd = w.image([baseTar, appTar], { arch: 'amd64', config: labels({}) });
  const arm = w.image([baseTar, appTar], { arch: 'arm64', variant: 'v8', config: labels({}) });
  // A build attestation as BuildKit writes one: platform unknown/unknown, an in-toto layer; copied, never run.
  const statement = w.blob(
    JSON.stringify({ _type: 'https://in-toto.io/Statement/v0.1', predicateType: 'https://spdx.dev/Document' }),
    'application/vnd.in-toto+json',
  );
  const attConfig = w.blob(
    JSON.stringify({ architecture: 'unknown', os: 'unknown', config: {}, rootfs: { type: 'layers', diff_ids: [] } }),
    'application/vnd.oci.image.config.v1+json',
  );
  const attestation = w.blob(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: attConfig,
      layers: [{ ...statement, annotations: { 'in-toto.io/predicate-type': 'https://spdx.dev/Document' } }],
    }),
    'application/vnd.oci.image.manifest.v1+json',
  );
  const attests = (digest: string) => ({
    'vnd.docker.reference.type': 'attestation-manifest',
    'vnd.docker.reference.digest': digest,
  });
  const multi = w.platformIndex([
    [amd, { os: 'linux', architecture: 'amd64' }],
    [arm, { os: 'linux', architecture: 'arm64', variant: 'v8' }],
    [
      { ...attestation, annotations: attests(amd.digest) },
      { os: 'unknown', architecture: 'unknown' },
    ],
  ]);
  // An image that claims to be an attestation but has a real platform: a runtime on linux/amd64 may run it, first
  // in the index, so the gate must assess it (its title fails the policy's label rule).
  const unassessed = w.image([baseTar, appTar], {
    arch: 'amd64',
    config: labels({ 'org.opencontainers.image.title': 'evil-unassessed' }),
  });
  const disguised = w.platformIndex([
    [
      { ...unassessed, annotations: attests(amd.digest) },
      { os: 'linux', architecture: 'amd64' },
    ],
    [amd, { os: 'linux', architecture: 'amd64' }],
  ]);
  // An index listed under platform unknown/unknown: no runtime picks it through this index, but pulled by its own
  // digest it runs what it lists, so the gate must refuse to promote it unassessed.
  const inner = w.platformIndex([[unassessed, { os: 'linux', architecture: 'amd64' }]]);
  const smuggled = w.platformIndex([
    [amd, { os: 'linux', architecture: 'amd64' }],
    [inner, { os: 'unknown', architecture: 'unknown' }],
  ]);
  // A platform image behind a nested index (no platform of its own) beside another: containerd descends it.
  const nested = w.blob(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        { ...amd, platform: { os: 'linux', architecture: 'amd64' } },
        w.platformIndex([[arm, { os: 'linux', architecture: 'arm64', variant: 'v8' }]]),
      ],
    }),
    'application/vnd.oci.image.index.v1+json',
  );
  const ref = (d: object, name: string) => ({ ...d, annotations: { 'org.opencontainers.image.ref.name': name } });
  w.index([
    ref(base, 'base'),
    ref(moved, 'moved'),
    ref(multi, 'multi'),
    ref(disguised, 'disguised'),
    ref(smuggled, 'smuggled'),
    ref(nested, 'nested'),
  ]);
  return {
    base: base.digest,
    moved: moved.digest,
    multi: multi.digest,
    children: [amd.digest, arm.digest],
    attestation: attestation.digest,
    disguised: disguised.digest,
    unassessed: unassessed.digest,
    smuggled: smuggled.digest,
    nested: nested.digest,
  };
}
