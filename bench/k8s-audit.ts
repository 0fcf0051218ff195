import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, nodeProfileArgs } from './env.js';
import { bestRatio, type FigureResult, mb, secs, spread } from './figure.js';
import { writeTreeOnce } from './filetree.js';
import { benchManifests, K8S_BENCH_CONFIG, K8S_OBJECTS } from './k8s-objects.js';
import { assertOk, interleaved, median, runChild } from './measure.js';

const TARGET = 2;
const FLOOR = join(import.meta.dirname, 'k8s-audit-floor.js');

/** The input: the manifests under `manifests/` and the configuration beside them. */
function ensureManifests(log: (m: string) => void): { dir: string; files: string[]; bytes: number } {
  const manifests = benchManifests();
  const files = new Map([...manifests].map(([path, text]) => [`manifests/${path}`, text]));
  files.set('k8s.yaml', K8S_BENCH_CONFIG);
  const tree = writeTreeOnce('k8s-audit', files, (dir) =>
    log(`figure 12: writing ${manifests.size} manifest files (${K8S_OBJECTS} objects) to ${dir} (once)`),
  );
  return {
    dir: tree.dir,
    files: [...manifests.keys()].sort(),
    bytes: [...manifests.values()].reduce((n, t) => n + Buffer.byteLength(t), 0),
  };
}

/**
 * Figure 12: `portcullis k8s audit DIR -f json` over 10,000 objects (namespaced YAML files and a kubectl JSON dump),
 * every group of checks configured, as a child process, against the floor: a node child that reads the same files
 * and parses them with the same YAML library and settings (bench/k8s-audit-floor.ts). Interleaved.
 */
export async function k8sAuditFigure(runs: number, log: (msg: string) => void): Promise<FigureResult> {
  const input = ensureManifests(log);
  const work = mkdtempSync(join(tmpdir(), 'portcullis-bench-k8s-'));
  try {
    const list = join(work, 'files.txt');
    writeFileSync(list, `${input.files.join('\n')}\n`);
    const report = join(work, 'report.json');
    const floorOut = join(work, 'floor.json');
    const manifests = join(input.dir, 'manifests');
    log(
      `figure 12: ${runs} interleaved runs of 'k8s audit' and the read + YAML-parse floor over ${K8S_OBJECTS} objects`,
    );
    const samples = await interleaved(runs, {
      floor: async () =>
        assertOk(await runChild(process.execPath, [FLOOR, manifests, list, floorOut]), 'figure 12 floor'),
      portcullis: async () =>
        assertOk(
          await runChild(process.execPath, [
            ...nodeProfileArgs(),
            CLI,
            ...['k8s', 'audit', manifests, '--config', join(input.dir, 'k8s.yaml')],
            ...['-f', 'json', '-o', report, '--exit-code', '0'],
          ]),
          'k8s audit',
        ),
    });
    const doc = JSON.parse(readFileSync(report, 'utf8'));
    const floor = JSON.parse(readFileSync(floorOut, 'utf8')) as { objects: number };
    if (doc.objects !== K8S_OBJECTS || floor.objects !== K8S_OBJECTS)
      throw new Error(
        `figure 12: k8s audit read ${doc.objects} objects, the floor ${floor.objects}, of ${K8S_OBJECTS}`,
      );
    const findings: { ruleId: string }[] = doc.findings ?? [];
    const byRule: Record<string, number> = {};
    for (const f of findings) byRule[f.ruleId] = (byRule[f.ruleId] ?? 0) + 1;
    const ours = median(samples.portcullis);
    const ref = median(samples.floor);
    const ratio = ours / ref;
    const best = bestRatio(samples.portcullis, samples.floor);
    return {
      id: 12,
      title: `k8s audit of ${K8S_OBJECTS.toLocaleString('en')} objects in ${input.files.length} files (${mb(input.bytes)})`,
      rows: [
        {
          measure: "'k8s audit DIR -f json' vs read + YAML parse (same library and settings)",
          ours: `${secs(ours)} (${(K8S_OBJECTS / ours).toFixed(0)} objects/s)`,
          reference: secs(ref),
          ratio,
          target: `<= ${TARGET}x`,
          met: ratio <= TARGET,
        },
      ],
      notes: [
        `medians of ${runs}; audit ${spread(samples.portcullis)}, floor ${spread(samples.floor)}; best-run ratio ${best.toFixed(2)}x`,
        `${findings.length} findings (${Object.entries(byRule)
          .sort()
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}); ${(doc.notes ?? []).length} notes; both sides read all ${K8S_OBJECTS} objects`,
        'both are node processes (start-up included); the floor parses with parseAllDocuments (YAML 1.1, strict, unique keys, line counter) and toJS; the audit also walks the tree, reads the configuration, builds the objects, runs every check and writes the report',
      ],
      data: { dir: input.dir, files: input.files.length, bytes: input.bytes, findings: byRule, samples, ratio, best },
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
