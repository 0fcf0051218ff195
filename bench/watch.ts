import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makePki, startRegistry, type TestPki, type TestRegistry } from '../test/helpers/registry.js';
import { BENCH_CACHE, CLI, nodeProfileArgs, ROOT } from './env.js';
import { bestRatio, type FigureResult, secs, spread } from './figure.js';
import { assertOk, interleaved, median, runChild } from './measure.js';

const TARGET = 2;
const CREDS = 'bench:bench watch password';
const KEY_ENV = { COSIGN_PASSWORD: 'bench key password' };
const LAYOUT = join(ROOT, 'examples', 'debian-app', 'layout');
/** Bump when the mix below changes: the cached registry is rebuilt. */
const CACHE_DIR = join(BENCH_CACHE, 'watch-v1');
const FLOOR = join(import.meta.dirname, 'watch-floor.js');

/*
 * The mix: 10,000 tags in 7 watched repositories. Six `prod/svc-N` repositories the trust policy names, each with 150
 * digests of 10 tags (1,500 tags): digest 0 is the example image promoted by `portcullis gate`, digests 1-19 are signed
 * with `portcullis sign` and attested PASS with `portcullis attest`, 20-21 only signed, 22-23 attested FAIL, 24-25
 * attested PASS in 2001 (stale), and the other 124 unsigned. `rogue/app`, which no trust entry names, holds 1,000 tags
 * of 100 digests. So 10% of the trusted digests go through the whole verification path (signature manifest and blob,
 * attestation manifest and blob, ECDSA), the rest through the signature manifest's 404; a release usually carries
 * several tags (version, minor, major, commit, branch), hence 10 tags a digest.
 */
const TRUSTED = Array.from({ length: 6 }, (_, i) => `prod/svc-${i}`);
const ROGUE = 'rogue/app';
const TAGS_PER_DIGEST = 10;
const DIGESTS = (repo: string): number => (repo === ROGUE ? 100 : 150);

type Role = 'gate' | 'pass' | 'signed' | 'fail' | 'stale' | 'unsigned' | 'untrusted';
const STATUS: Record<Role, string> = {
  gate: 'approved',
  pass: 'approved',
  signed: 'unassessed',
  fail: 'failed',
  stale: 'stale',
  unsigned: 'unsigned',
  untrusted: 'unknown-repository',
};

function roleOf(repo: string, d: number): Role {
  if (repo === ROGUE) return 'untrusted';
  if (d === 0) return 'gate';
  if (d < 20) return 'pass';
  if (d < 22) return 'signed';
  if (d < 24) return 'fail';
  if (d < 26) return 'stale';
  return 'unsigned';
}

const tagOf = (d: number, k: number): string => `1.${d}.${k}`;

/** The example image's manifest, or for d > 0 a variant of it (same config and layer, one annotation more). */
function manifestOf(repo: string, d: number): Buffer {
  const index = JSON.parse(readFileSync(join(LAYOUT, 'index.json'), 'utf8'));
  const bytes = readFileSync(join(LAYOUT, 'blobs', ...(index.manifests[0].digest as string).split(':')));
  if (d === 0) return bytes;
  const m = JSON.parse(bytes.toString('utf8'));
  m.annotations = { ...m.annotations, 'org.opencontainers.image.revision': `${repo}-${d}` };
  return Buffer.from(JSON.stringify(m));
}

const digestOf = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** The status every image tag must get, by `repo:tag`, and its digest. */
function expectedTags(): Map<string, { status: string; digest: string }> {
  const out = new Map<string, { status: string; digest: string }>();
  for (const repo of [...TRUSTED, ROGUE]) {
    for (let d = 0; d < DIGESTS(repo); d++) {
      const digest = digestOf(manifestOf(repo, d));
      for (let k = 0; k < TAGS_PER_DIGEST; k++)
        out.set(`${repo}:${tagOf(d, k)}`, { status: STATUS[roleOf(repo, d)], digest });
    }
  }
  return out;
}

async function pool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let i = 0;
  const worker = async (): Promise<void> => {
    while (i < items.length) await fn(items[i++] as T);
  };
  await Promise.all(Array.from({ length: limit }, worker));
}

/** PUT a manifest under a tag through the registry API (node:https, not Portcullis). */
function putManifest(reg: TestRegistry, agent: https.Agent, repo: string, tag: string, body: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      `https://${reg.host}/v2/${repo}/manifests/${tag}`,
      {
        method: 'PUT',
        agent,
        headers: {
          authorization: `Basic ${Buffer.from(CREDS).toString('base64')}`,
          'content-type': 'application/vnd.oci.image.manifest.v1+json',
          'content-length': String(body.length),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          res.statusCode === 201 ? resolve() : reject(new Error(`PUT ${repo}:${tag}: HTTP ${res.statusCode}`)),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The policy the example image passes on the example advisories (as the gate tests use). */
function writePolicy(dir: string): string {
  const index = JSON.parse(readFileSync(join(LAYOUT, 'index.json'), 'utf8'));
  const blob = (d: string) => JSON.parse(readFileSync(join(LAYOUT, 'blobs', ...d.split(':')), 'utf8'));
  const config = blob(blob(index.manifests[0].digest).config.digest);
  const file = join(dir, 'policy.yaml');
  writeFileSync(
    file,
    [
      'apiVersion: portcullis.dev/v1alpha1',
      'kind: ImagePolicy',
      'name: bench-watch',
      'rules:',
      '  vulnerabilities:',
      '    failOn: critical',
      '    packages: [{ package: pkg:npm/minimist, ignore: true, reason: dev-only dependency }]',
      `  baseImage: { approved: [{ name: example-base, layers: ["${config.rootfs.diff_ids[0]}"] }] }`,
      '',
    ].join('\n'),
  );
  return file;
}

interface Meta {
  readonly port: number;
  readonly tags: number;
}

/** Build the populated registry once (about two minutes), store its storage and key under the bench cache. */
async function buildRegistry(pki: TestPki, log: (m: string) => void): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'portcullis-bench-watch-build-'));
  const [user, password] = CREDS.split(':') as [string, string];
  const reg = await startRegistry({ tls: true, pki, auth: { user, password } });
  const cli = (args: string[], what: string) =>
    runChild(process.execPath, [CLI, ...args], { env: KEY_ENV }).then((r) => assertOk(r, what));
  const conn = ['--ca-cert', pki.caCert, '--creds', CREDS];
  try {
    log(`figure 8: building the registry of 10,000 tags on ${reg.host} (once; cached in ${CACHE_DIR})`);
    const skopeo = async (dest: string) =>
      assertOk(
        await runChild('skopeo', [
          'copy',
          '--quiet',
          '--preserve-digests',
          '--dest-cert-dir',
          reg.certDir as string,
          '--dest-creds',
          CREDS,
          `oci:${LAYOUT}:latest`,
          `docker://${reg.host}/${dest}`,
        ]),
        `skopeo copy to ${dest}`,
      );
    await skopeo('staging/app:src');
    await skopeo(`${ROGUE}:${tagOf(0, 0)}`);
    const db = join(work, 'advisories.db');
    await cli(['db', 'import', join(ROOT, 'examples', 'advisories'), '--db', db, '-q'], 'db import');
    const key = join(work, 'gate');
    await cli(['keygen', '--output-key-prefix', key], 'keygen');
    const policy = writePolicy(work);
    await pool(TRUSTED, 2, (repo) =>
      cli(
        [
          'gate',
          `docker://${reg.host}/staging/app:src`,
          ...['--to', `${reg.host}/${repo}:${tagOf(0, 0)}`, '--policy', policy, '--key', `${key}.key`],
          ...['--db', db, '-q', ...conn],
        ],
        `gate to ${repo}`,
      ),
    );
    // Every tag straight through the API: the blobs are in each repository already (gate, skopeo).
    const agent = new https.Agent({ keepAlive: true, maxSockets: 8, ca: readFileSync(pki.caCert) });
    const puts: [string, string, Buffer][] = [];
    for (const repo of [...TRUSTED, ROGUE]) {
      for (let d = 0; d < DIGESTS(repo); d++) {
        const body = manifestOf(repo, d);
        for (let k = 0; k < TAGS_PER_DIGEST; k++) puts.push([repo, tagOf(d, k), body]);
      }
    }
    await pool(puts, 8, ([repo, tag, body]) => putManifest(reg, agent, repo, tag, body));
    agent.destroy();
    log(`figure 8: ${puts.length} tags put; signing and attesting`);
    const now = new Date().toISOString();
    const predicate = (name: string, decision: string, assessedAt: string): string => {
      const file = join(work, `${name}.json`);
      writeFileSync(file, JSON.stringify({ decision, assessedAt, policy: { name: 'bench-watch' } }));
      return file;
    };
    const predicates: Partial<Record<Role, string>> = {
      pass: predicate('pass', 'PASS', now),
      fail: predicate('fail', 'FAIL', now),
      stale: predicate('stale', 'PASS', '2001-01-01T00:00:00Z'),
    };
    const jobs: { repo: string; d: number; role: Role }[] = [];
    for (const repo of TRUSTED) {
      for (let d = 1; d < DIGESTS(repo); d++) {
        const role = roleOf(repo, d);
        if (role !== 'unsigned') jobs.push({ repo, d, role });
      }
    }
    await pool(jobs, 2, async ({ repo, d, role }) => {
      const image = `docker://${reg.host}/${repo}@${digestOf(manifestOf(repo, d))}`;
      await cli(['sign', image, '--key', `${key}.key`, ...conn], `sign ${image}`);
      const p = predicates[role];
      if (p) await cli(['attest', image, '--key', `${key}.key`, '--predicate', p, ...conn], `attest ${image}`);
    });
    await reg.kill();
    const tmp = `${CACHE_DIR}.tmp`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    cpSync(reg.storage, join(tmp, 'storage'), { recursive: true });
    cpSync(`${key}.pub`, join(tmp, 'gate.pub'));
    const meta: Meta = { port: reg.port, tags: puts.length };
    writeFileSync(join(tmp, 'meta.json'), JSON.stringify(meta));
    rmSync(CACHE_DIR, { recursive: true, force: true });
    renameSync(tmp, CACHE_DIR);
  } finally {
    await reg.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

/** The cached registry, served again on the port its signatures name (they say host:port/repository). */
async function serveCached(pki: TestPki, log: (m: string) => void): Promise<TestRegistry> {
  const metaFile = join(CACHE_DIR, 'meta.json');
  const [user, password] = CREDS.split(':') as [string, string];
  for (let attempt = 0; attempt < 2; attempt++) {
    if (!existsSync(metaFile)) await buildRegistry(pki, log);
    const meta = JSON.parse(readFileSync(metaFile, 'utf8')) as Meta;
    let reg: TestRegistry;
    try {
      reg = await startRegistry({ tls: true, pki, auth: { user, password }, port: meta.port });
    } catch (err) {
      log(
        `figure 8: port ${meta.port} of the cached registry is taken (${(err as Error).message.slice(0, 80)}); rebuilding`,
      );
      rmSync(CACHE_DIR, { recursive: true, force: true });
      continue;
    }
    // Served in place through a link (watching only reads; a copy of 60,000 small files takes minutes on some disks);
    // stop() removes the link, not the cache.
    await reg.kill();
    rmSync(reg.storage, { recursive: true, force: true });
    symlinkSync(join(CACHE_DIR, 'storage'), reg.storage);
    await reg.restart();
    return reg;
  }
  throw new Error('could not serve the cached registry');
}

/** Requests in the access log since `from`, by method. */
function requestsSince(reg: TestRegistry, from: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of reg
    .log()
    .slice(from)
    .matchAll(/"(GET|HEAD|PUT|POST|PATCH|DELETE) \/v2\/\S* HTTP\/[\d.]+" (\d{3}) /g)) {
    const key = `${m[1]} ${m[2]}`;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

/**
 * Figure 8: `portcullis registry watch --once -f json` over 10,000 tags of a local registry (distribution 2.x, TLS,
 * htpasswd), beside the floor: the catalog, the tag lists and a bare HEAD per tag, in a node process of its own with
 * the same client settings and concurrency (bench/watch-floor.ts).
 */
export async function watchFigure(runs: number, log: (msg: string) => void): Promise<FigureResult> {
  const work = mkdtempSync(join(tmpdir(), 'portcullis-bench-watch-'));
  let reg: TestRegistry | undefined;
  try {
    const pki = makePki(join(work, 'pki'));
    reg = await serveCached(pki, log);
    writeFileSync(
      join(work, 'trust.yaml'),
      `version: 1\nrepositories:\n  - match: ${reg.host}/prod/**\n    keys: [${join(CACHE_DIR, 'gate.pub')}]\n    attestations: [assessment]\n`,
    );
    const config = join(work, 'watch.yaml');
    writeFileSync(
      config,
      [
        'apiVersion: portcullis.dev/v1alpha1',
        'kind: WatchConfig',
        'registries:',
        `  - host: ${reg.host}`,
        '    repositories: [prod/**, rogue/*]',
        '    trustPolicy: trust.yaml',
        '    maxAssessmentAge: 520w',
        '',
      ].join('\n'),
    );
    const report = join(work, 'report.json');
    const floorOut = join(work, 'floor.json');
    const repos = [...TRUSTED, ROGUE].sort();
    const r = reg;
    const requests: { portcullis: Record<string, number>[]; floor: Record<string, number>[] } = {
      portcullis: [],
      floor: [],
    };
    const counted = async (side: 'portcullis' | 'floor', run: () => Promise<void>): Promise<void> => {
      const from = r.log().length;
      await run();
      requests[side].push(requestsSince(r, from));
    };
    log(`figure 8: ${runs} interleaved runs of 'registry watch --once' and the HEAD-per-tag floor on ${reg.host}`);
    const samples = await interleaved(runs, {
      floor: () =>
        counted('floor', async () =>
          assertOk(
            await runChild(process.execPath, [FLOOR, r.host, pki.caCert, CREDS, repos.join(','), floorOut]),
            'floor',
          ),
        ),
      portcullis: () =>
        counted('portcullis', async () =>
          assertOk(
            await runChild(process.execPath, [
              ...nodeProfileArgs(),
              CLI,
              ...['registry', 'watch', '--config', config, '--once', '-f', 'json', '-o', report],
              ...['--exit-code', '0', '--ca-cert', pki.caCert, '--creds', CREDS],
            ]),
            'registry watch',
          ),
        ),
    });
    const counts = check(report, floorOut);
    return summarise(runs, samples, counts, requests);
  } finally {
    await reg?.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

/** The watcher classified every tag as the mix says, on the digest the floor's HEAD saw; its counts by status. */
function check(reportFile: string, floorFile: string): Record<string, number> {
  const doc = JSON.parse(readFileSync(reportFile, 'utf8'));
  const floor = JSON.parse(readFileSync(floorFile, 'utf8')) as Record<string, string>;
  const inv = doc.registries[0];
  const want = expectedTags();
  const seen = new Set<string>();
  for (const t of inv.tags as { repository: string; tag: string; digest: string; status: string }[]) {
    const id = `${t.repository}:${t.tag}`;
    const w = want.get(id);
    if (!w) throw new Error(`the watcher reported ${id}, which the mix does not hold`);
    if (t.status !== w.status || t.digest !== w.digest || floor[id] !== w.digest) {
      throw new Error(`${id}: watcher ${t.status} ${t.digest}, floor ${floor[id]}, expected ${w.status} ${w.digest}`);
    }
    seen.add(id);
  }
  if (seen.size !== want.size || Object.keys(floor).length !== want.size) {
    throw new Error(`the watcher reported ${seen.size} tags, the floor ${Object.keys(floor).length}, of ${want.size}`);
  }
  return inv.counts as Record<string, number>;
}

function summarise(
  runs: number,
  samples: { floor: number[]; portcullis: number[] },
  counts: Record<string, number>,
  requests: { portcullis: Record<string, number>[]; floor: Record<string, number>[] },
): FigureResult {
  const ours = median(samples.portcullis);
  const floor = median(samples.floor);
  const ratio = ours / floor;
  const show = (r: Record<string, number> | undefined) =>
    Object.entries(r ?? {})
      .sort()
      .map(([k, v]) => `${k} x${v}`)
      .join(', ');
  const tags = Object.values(counts).reduce((a, b) => a + b, 0);
  return {
    id: 8,
    title: `registry watch --once of ${tags.toLocaleString('en')} tags on a local registry`,
    rows: [
      {
        measure: "'registry watch --once -f json' vs catalog + tag lists + a HEAD per tag",
        ours: secs(ours),
        reference: secs(floor),
        ratio,
        target: `<= ${TARGET}x`,
        met: ratio <= TARGET,
      },
    ],
    notes: [
      `medians of ${runs}; watch ${spread(samples.portcullis)}, floor ${spread(samples.floor)}; best-run ratio ${bestRatio(samples.portcullis, samples.floor).toFixed(2)}x; ${(tags / ours).toFixed(0)} tags/s`,
      `verdicts: ${Object.entries(counts)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}; every tag's status and digest checked against the mix and the floor's HEAD`,
      'mix: 6 trusted repositories of 150 digests x 10 tags (per repository: 1 promoted by the gate, 19 signed + attested PASS, 2 signed only, 2 attested FAIL, 2 attested PASS in 2001, 124 unsigned) and 1 repository no trust entry names (100 digests x 10 tags)',
      'both are node processes (start-up included) with keep-alive, 8 sockets, TLS 1.2+, the test CA, htpasswd Basic auth; repositories in turn, 4 tags at once; the floor lists the catalog and the tags as any reconcile must',
      'distribution checks the htpasswd bcrypt hash on every request, so on one local registry both sides spend most of their wall time waiting on it',
      `registry requests of the last run: watch ${show(requests.portcullis.at(-1))}; floor ${show(requests.floor.at(-1))}`,
    ],
    data: { seconds: samples.portcullis, floorSeconds: samples.floor, counts, requests },
  };
}
