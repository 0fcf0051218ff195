import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GateRecord } from '../src/gate/record.js';
import { makePki, startRegistry, type TestRegistry } from '../test/helpers/registry.js';
import { ensureAdvisoryDb } from './advisories.js';
import { BOOKWORM_REF, ensureBookwormImage } from './bookworm.js';
import { CLI, nodeProfileArgs } from './env.js';
import { bestRatio, type FigureResult, mb, secs, spread } from './figure.js';
import { assertOk, interleaved, median, runChild } from './measure.js';

const TARGET = 2;
const CREDS = 'bench:bench registry password';
const KEY_ENV = { COSIGN_PASSWORD: 'bench key password' };
const TAG = 'bench';

/** Blob uploads a registry's access log shows into one repository, and cross-repository mounts it granted there. */
function blobWrites(log: string, repo: string): { uploads: number; mounts: number } {
  const count = (re: RegExp) => log.split('\n').filter((l) => re.test(l)).length;
  return {
    uploads: count(new RegExp(`"PUT /v2/${repo}/blobs/uploads/\\S+ HTTP/[\\d.]+" 201 `)),
    mounts: count(new RegExp(`"POST /v2/${repo}/blobs/uploads/\\?\\S*mount=\\S* HTTP/[\\d.]+" 201 `)),
  };
}

/**
 * A policy the bookworm image passes on the real data: no fixable high or critical vulnerability, the bottom layer
 * an approved base (its diff_id), and the registry an allowed one. Every rule is evaluated against real findings.
 */
function writePolicy(dir: string, layout: string, registry: string): string {
  const blob = (d: string) => JSON.parse(readFileSync(join(layout, 'blobs', ...d.split(':')), 'utf8'));
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
  const config = blob(blob(index.manifests[0].digest).config.digest);
  const file = join(dir, 'policy.yaml');
  writeFileSync(
    file,
    [
      'apiVersion: portcullis.dev/v1alpha1',
      'kind: ImagePolicy',
      'name: bench',
      'rules:',
      '  vulnerabilities: { failOn: high, onlyFixable: true }',
      `  baseImage: { approved: [{ name: debian-bookworm, layers: ["${config.rootfs.diff_ids[0]}"] }] }`,
      `  registries: ["${registry}"]`,
      '',
    ].join('\n'),
  );
  return file;
}

/**
 * Figure 6: `portcullis gate` of the bookworm image from a staging registry to a production registry (assess, copy,
 * sign, attest, verify, tag), beside `skopeo copy` of the same digest between the same two registries. Each round gets
 * a fresh production registry, so neither side finds the layer already there or mountable.
 */
export async function gateFigure(runs: number, log: (msg: string) => void): Promise<FigureResult> {
  const layout = ensureBookwormImage(log);
  const db = await ensureAdvisoryDb((m) => log(`figure 6: ${m}`));
  const work = mkdtempSync(join(tmpdir(), 'portcullis-bench-gate-'));
  const pki = makePki(join(work, 'pki'));
  const [user, password] = CREDS.split(':') as [string, string];
  const start = () => startRegistry({ tls: true, pki, auth: { user, password } });
  let staging: TestRegistry | undefined;
  let prod: TestRegistry | undefined;
  try {
    staging = await start();
    const digestFile = join(work, 'digest');
    const tls = (side: 'src' | 'dest', reg: TestRegistry) => [`--${side}-cert-dir`, reg.certDir as string];
    const push = [
      'copy',
      '--quiet',
      '--preserve-digests',
      '--digestfile',
      digestFile,
      ...tls('dest', staging),
      '--dest-creds',
      CREDS,
      `oci:${layout}:${BOOKWORM_REF}`,
      `docker://${staging.host}/bench/bookworm:${TAG}`,
    ];
    assertOk(await runChild('skopeo', push), 'skopeo copy to staging');
    const source = `${staging.host}/bench/bookworm@${readFileSync(digestFile, 'utf8').trim()}`;
    const key = join(work, 'gate');
    assertOk(await runChild(process.execPath, [CLI, 'keygen', '--output-key-prefix', key], { env: KEY_ENV }), 'keygen');
    const policy = writePolicy(work, layout, staging.host);

    let round = 0;
    const records: GateRecord[] = [];
    const skopeoWrites = { uploads: 0, mounts: 0 };
    const gateWrites = { uploads: 0, mounts: 0 };
    const tally = (reg: TestRegistry): void => {
      for (const [w, repo] of [
        [skopeoWrites, `skopeo-${round}`],
        [gateWrites, `gate-${round}`],
      ] as const) {
        const b = blobWrites(reg.log(), repo);
        w.uploads += b.uploads;
        w.mounts += b.mounts;
      }
    };
    log(`figure 6: ${runs} interleaved rounds of 'gate' and 'skopeo copy', ${staging.host} to a fresh registry each`);
    const samples = await interleaved(
      runs,
      {
        skopeo: async () => {
          const p = prod as TestRegistry;
          const args = ['copy', '--quiet', ...tls('src', staging as TestRegistry), '--src-creds', CREDS];
          args.push(...tls('dest', p), '--dest-creds', CREDS, `docker://${source}`);
          assertOk(await runChild('skopeo', [...args, `docker://${p.host}/skopeo-${round}:${TAG}`]), 'skopeo copy');
        },
        portcullis: async () => {
          const p = prod as TestRegistry;
          const record = join(work, `record-${round}.json`);
          const args = [
            ...nodeProfileArgs(),
            CLI,
            'gate',
            `docker://${source}`,
            '--to',
            `${p.host}/gate-${round}:${TAG}`,
          ];
          args.push('--policy', policy, '--key', `${key}.key`, '--db', db, '--record', record, '-q');
          args.push('--ca-cert', pki.caCert, '--creds', CREDS);
          assertOk(await runChild(process.execPath, args, { env: KEY_ENV }), 'portcullis gate');
          const r = JSON.parse(readFileSync(record, 'utf8')) as GateRecord;
          if (r.decision !== 'PASS' || !r.promoted || r.alreadyPromoted) {
            throw new Error(`the gate did not promote: ${JSON.stringify(r.rules)}`);
          }
          records.push(r);
        },
      },
      {
        beforeRound: async () => {
          if (prod) {
            tally(prod);
            await prod.stop();
          }
          round++;
          prod = await start();
        },
      },
    );
    if (prod) tally(prod);
    return summarise(runs, samples, records.slice(1), { skopeo: skopeoWrites, gate: gateWrites, rounds: round });
  } finally {
    await prod?.stop();
    await staging?.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

type Writes = { uploads: number; mounts: number };

function summarise(
  runs: number,
  samples: { skopeo: number[]; portcullis: number[] },
  records: readonly GateRecord[],
  writes: { skopeo: Writes; gate: Writes; rounds: number },
): FigureResult {
  const step = (r: GateRecord, names: readonly string[]) =>
    names.reduce((sum, n) => sum + ((r.stepSeconds as Record<string, number | undefined>)[n] ?? 0), 0);
  const assess = records.map((r) => step(r, ['resolve', 'assess']));
  const promote = records.map((r) => step(r, ['copy', 'sign', 'attest', 'tag']));
  const other = samples.portcullis.map((t, i) => t - (assess[i] as number) - (promote[i] as number));
  const gate = median(samples.portcullis);
  const skopeo = median(samples.skopeo);
  const ratio = gate / skopeo;
  const last = records.at(-1) as GateRecord;
  const copied = last.copied as NonNullable<GateRecord['copied']>;
  const part = (measure: string, xs: number[]) => ({
    measure,
    ours: secs(median(xs)),
    reference: secs(skopeo),
    ratio: median(xs) / skopeo,
    target: '-',
  });
  return {
    id: 6,
    title: `gate of the bookworm image (${mb(copied.bytes)} of blobs, ${last.findings.total} findings) between two local registries`,
    rows: [
      {
        measure: "'gate' (assess + promote + sign) vs 'skopeo copy'",
        ours: secs(gate),
        reference: secs(skopeo),
        ratio,
        target: `<= ${TARGET}x`,
        met: ratio <= TARGET,
      },
      part('  of which resolve + assess', assess),
      part('  of which copy + sign + attest + verify + tag', promote),
      part('  of which the rest (start, key, database)', other),
    ],
    notes: [
      `medians of ${runs}; gate ${spread(samples.portcullis)}, skopeo ${spread(samples.skopeo)}; best-run ratio ${bestRatio(samples.portcullis, samples.skopeo).toFixed(2)}x`,
      'both copy by digest from one staging registry to a production registry (distribution 2.x, TLS, htpasswd), each into its own new repository; the step times come from the record (--record stepSeconds)',
      'a fresh production registry each round: with one registry, skopeo (its blob info cache) mounts the layer from its own earlier repository instead of uploading it',
      `blob uploads over ${writes.rounds} rounds (warm-up included): skopeo ${writes.skopeo.uploads} (${writes.skopeo.mounts} mounted), gate ${writes.gate.uploads} with signature and attestations (${writes.gate.mounts} mounted); gate's copy step: ${copied.blobs} copied, ${copied.present} present, ${copied.mounted} mounted`,
      copied.present === 0 && copied.mounted === 0 && writes.skopeo.mounts === 0
        ? 'distribution answers HEAD 404 for a blob it stores for another repository (blob links are per repository), so the gate, second each round, uploads the layer in full too'
        : 'WARNING: a blob was found present or mounted, so not every byte was copied: the figure flatters that side',
    ],
    data: {
      seconds: samples.portcullis,
      skopeoSeconds: samples.skopeo,
      assessSeconds: assess,
      promoteSeconds: promote,
      otherSeconds: other,
      stepSeconds: records.map((r) => r.stepSeconds),
      blobUploads: writes,
      copied,
    },
  };
}
