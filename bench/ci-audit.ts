import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchWorkflows, WORKFLOW_FILES } from './ci-workflows.js';
import { CLI, nodeProfileArgs, ROOT } from './env.js';
import { bestRatio, type FigureResult, mb, secs, spread } from './figure.js';
import { writeTreeOnce } from './filetree.js';
import { assertOk, interleaved, median, runChild } from './measure.js';

const TARGET = 2;
const FLOOR = join(import.meta.dirname, 'ci-audit-floor.js');

/** The benchmark repository (the seeds are the corpus, so a changed fixture makes a new folder). */
function ensureRepository(log: (m: string) => void): { dir: string; files: string[]; bytes: number } {
  const files = benchWorkflows(ROOT);
  return writeTreeOnce('ci-audit', files, (dir) =>
    log(`figure 10: writing ${files.size} workflow and action files to ${dir} (once)`),
  );
}

/**
 * Figure 10: `portcullis ci audit DIR -f json` over 1,000 GitHub Actions files (940 workflows and 60 composite
 * actions), as a child process, against the floor: a node child that reads the same files and parses each with the
 * same YAML library and settings (bench/ci-audit-floor.ts). Interleaved.
 */
export async function ciAuditFigure(runs: number, log: (msg: string) => void): Promise<FigureResult> {
  const repo = ensureRepository(log);
  if (repo.files.length !== WORKFLOW_FILES)
    throw new Error(`figure 10: generated ${repo.files.length} files, expected ${WORKFLOW_FILES}`);
  const work = mkdtempSync(join(tmpdir(), 'portcullis-bench-ci-'));
  try {
    const list = join(work, 'files.txt');
    writeFileSync(list, `${repo.files.join('\n')}\n`);
    const report = join(work, 'report.json');
    const floorOut = join(work, 'floor.json');
    log(
      `figure 10: ${runs} interleaved runs of 'ci audit' and the read + YAML-parse floor over ${repo.files.length} files`,
    );
    const samples = await interleaved(runs, {
      floor: async () =>
        assertOk(await runChild(process.execPath, [FLOOR, repo.dir, list, floorOut]), 'figure 10 floor'),
      portcullis: async () =>
        assertOk(
          await runChild(process.execPath, [
            ...nodeProfileArgs(),
            CLI,
            ...['ci', 'audit', repo.dir, '-f', 'json', '-o', report, '--exit-code', '0'],
          ]),
          'ci audit',
        ),
    });
    const doc = JSON.parse(readFileSync(report, 'utf8'));
    const floor = JSON.parse(readFileSync(floorOut, 'utf8')) as { docs: number };
    const read: string[] = doc.files ?? [];
    if (read.length !== repo.files.length || floor.docs !== repo.files.length)
      throw new Error(
        `figure 10: ci audit read ${read.length} files, the floor ${floor.docs}, of ${repo.files.length}`,
      );
    const findings: { ruleId: string }[] = doc.findings ?? [];
    const byRule: Record<string, number> = {};
    for (const f of findings) byRule[f.ruleId] = (byRule[f.ruleId] ?? 0) + 1;
    const ours = median(samples.portcullis);
    const ref = median(samples.floor);
    const ratio = ours / ref;
    const best = bestRatio(samples.portcullis, samples.floor);
    return {
      id: 10,
      title: `ci audit of ${repo.files.length.toLocaleString('en')} GitHub Actions files (${mb(repo.bytes)})`,
      rows: [
        {
          measure: "'ci audit DIR -f json' vs read + YAML parse (same library and settings)",
          ours: `${secs(ours)} (${(repo.files.length / ours).toFixed(0)} files/s)`,
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
          .join(', ')}); ${(doc.notes ?? []).length} notes; both sides read all ${repo.files.length} files`,
        'both are node processes (start-up included); the floor parses with parseDocument (core schema, strict, unique keys, line counter) and toJS; the audit also walks the tree to find the files, bounds the depth on the same lex as the parse, checks tags, builds the model, runs the rules and writes the report',
      ],
      data: { dir: repo.dir, files: repo.files.length, bytes: repo.bytes, findings: byRule, samples, ratio, best },
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
