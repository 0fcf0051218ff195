import { copyFileSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { matchInventory, targetOf } from '../src/advisories/match.js';
import { severityOf } from '../src/advisories/severity.js';
import { SCHEME_CHOOSER } from '../src/advisories/versions/index.js';
import { type Inventory, inventoryRootfs } from '../src/inventory/image.js';
import type { Package, PackageType } from '../src/inventory/model.js';
import { parsePolicy } from '../src/policy/load.js';
import { toVulnerabilityCycloneDx } from '../src/report/vuln-cyclonedx.js';
import { AdvisoryDb } from '../src/store/advisorydb.js';
import { advisoryDataVersion, SbomStore } from '../src/watch/sbomstore.js';
import { ensureAdvisoryDb } from './advisories.js';
import { BENCH_CACHE, ROOTFS } from './env.js';
import { bestRatio, type FigureResult, mb, secs, spread } from './figure.js';
import { interleaved, median } from './measure.js';
import { Rng } from './rng.js';

const SBOMS = 1_000;
const TARGET = 2;
/** The advisory update: these Debian 12 source packages' rows are absent before it (the SBOMs were gated then). */
const UPDATED = ['curl', 'glibc', 'openssl', 'systemd', 'tar', 'zlib'];
const LANGUAGE: Record<string, PackageType> = { npm: 'npm', PyPI: 'pypi', Go: 'golang', Maven: 'maven' };
const POLICY = `apiVersion: portcullis.dev/v1alpha1
kind: ImagePolicy
name: bench
rules:
  vulnerabilities:
    failOn: high
    onlyFixable: true
    limits: { critical: 0 }
`;
/** The lookup the store makes (AdvisoryDb), done directly: both floors are made of it. */
const LOOKUP = `SELECT ecosystem, package, advisory_id, ranges, versions, status, urgency, no_dsa, advisory
  FROM affected WHERE ecosystem = ? AND package = ?`;

/** Language packages named in the store, at a version from their ranges: what an application layer adds. */
function languagePackages(db: Database.Database, rng: Rng, n: number): Package[] {
  const rows = db
    .prepare(
      `SELECT ecosystem, package, min(ranges) AS ranges FROM affected
       WHERE ecosystem IN ('npm', 'PyPI', 'Go', 'Maven') GROUP BY ecosystem, package ORDER BY ecosystem, package`,
    )
    .all() as { ecosystem: string; package: string; ranges: string }[];
  const out: Package[] = [];
  while (out.length < n) {
    const r = rows[rng.below(rows.length)] as (typeof rows)[number];
    const events = (JSON.parse(r.ranges) as { events: Record<string, string>[] }[]).flatMap((x) => x.events);
    const version = events.map((e) => e.fixed ?? e.introduced).find((v) => v && v !== '0') ?? '1.0.0';
    const type = LANGUAGE[r.ecosystem] as PackageType;
    const [group, artifact] = type === 'maven' ? r.package.split(':') : [undefined, r.package];
    const name = artifact ?? r.package;
    const slash = type === 'golang' ? name.lastIndexOf('/') : -1;
    const purlName =
      type === 'maven'
        ? `${encodeURIComponent(group ?? '')}/${encodeURIComponent(name)}`
        : slash > 0
          ? `${name.slice(0, slash)}/${encodeURIComponent(name.slice(slash + 1))}`
          : encodeURIComponent(name);
    out.push({
      name,
      version,
      type,
      purl: `pkg:${type}/${purlName}@${encodeURIComponent(version)}`,
      licenses: [],
      locations: [{ path: `app/${r.ecosystem.toLowerCase()}/${out.length}`, layer: 1 }],
      layer: 1,
      foundBy: 'bench',
    });
  }
  return out;
}

/**
 * 1,000 images: each the bookworm rootfs's packages (a random 70-100% of them, as slimmer and fuller variants of one
 * base) plus 0-60 language packages named in the store, as an application layer adds them.
 */
function images(bookworm: Inventory, language: readonly Package[], rng: Rng): Inventory[] {
  const out: Inventory[] = [];
  for (let i = 0; i < SBOMS; i++) {
    const keep = 0.7 + 0.3 * rng.float();
    const os = bookworm.packages.filter(() => rng.float() < keep);
    const start = rng.below(language.length);
    const app = language.slice(start, start + rng.below(61));
    const hex = (i + 1).toString(16).padStart(64, '0');
    out.push({
      ...bookworm,
      subject: {
        kind: 'image',
        source: `docker://registry.bench/team${i % 50}/app${i}@sha256:${hex}`,
        digest: `sha256:${hex}`,
        platform: { os: 'linux', architecture: 'amd64' },
        layers: [
          { index: 0, diffId: `sha256:${'b'.repeat(64)}` },
          { index: 1, diffId: `sha256:${hex.replace(/^0+/, (z) => 'a'.repeat(z.length))}` },
        ],
      },
      packages: [...os, ...app],
      unknowns: [],
    });
  }
  return out;
}

/** The (ecosystem, package) lookups matching makes for these inventories: one per distinct target of each image. */
function lookupsOf(invs: readonly Inventory[]): [string, string][] {
  const keys: [string, string][] = [];
  for (const inv of invs) {
    const seen = new Set<string>();
    for (const p of inv.packages) {
      const t = targetOf(p, inv.os);
      if (!t || !SCHEME_CHOOSER.forEcosystem(t.ecosystem).valid(t.version)) continue;
      const key = `${t.ecosystem}\0${t.name}\0${t.version}`;
      if (seen.has(key)) continue;
      seen.add(key);
      keys.push([t.ecosystem, t.name]);
    }
  }
  return keys;
}

/** Figure 9: re-matching 1,000 stored SBOMs after an advisory update, beside the advisory lookups alone. */
export async function rematchFigure(runs: number, log: (msg: string) => void): Promise<FigureResult> {
  const after = await ensureAdvisoryDb((m) => log(`figure 9: ${m}`));
  const work = join(BENCH_CACHE, 'rematch');
  mkdirSync(work, { recursive: true });
  const beforePath = join(work, 'before.db');
  copyFileSync(after, beforePath);
  const edit = new Database(beforePath);
  const removed = edit
    .prepare(`DELETE FROM affected WHERE ecosystem = 'Debian:12' AND package IN (${UPDATED.map(() => '?').join(',')})`)
    .run(...UPDATED).changes;
  edit.close();

  log('figure 9: inventorying the bookworm rootfs and storing 1,000 SBOMs as the gate attests them');
  const bookworm = await inventoryRootfs(ROOTFS, 'dir:bookworm');
  const raw = new Database(after, { readonly: true });
  const rng = new Rng(9);
  const invs = images(bookworm, languagePackages(raw, rng, 2_000), rng);
  const beforeDb = AdvisoryDb.open(beforePath);
  const afterDb = AdvisoryDb.open(after);
  const statePath = join(work, 'watch.db');
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${statePath}${suffix}`, { force: true });
  const state = new Database(statePath);
  state.pragma('journal_mode = WAL');
  const store = new SbomStore(state);
  const gatedAt = new Date('2025-01-01T00:00:00Z');
  let gateFindings = 0;
  state.transaction(() => {
    invs.forEach((inv, i) => {
      const findings = matchInventory(inv, beforeDb, SCHEME_CHOOSER, severityOf).findings;
      gateFindings += findings.length;
      const sbom = toVulnerabilityCycloneDx([{ inv, findings }], { timestamp: gatedAt, uuid: crypto.randomUUID() });
      store.put('registry.bench', `team${i % 50}/app${i}`, inv.subject.digest as string, sbom, undefined, gatedAt);
    });
  })();
  beforeDb.close();
  const stored = statSync(statePath).size;

  // Floor (a), the issue's: the lookups each SBOM's packages need, per SBOM, as a naive re-match makes them.
  const keys = lookupsOf(invs);
  // Floor (b): each distinct (ecosystem, package) of all the SBOMs once, the least any re-match must read.
  const distinct = [...new Map(keys.map(([e, p]) => [`${e}\0${p}`, [e, p] as [string, string]])).values()];
  const lookup = raw.prepare(LOOKUP).raw(true);
  const policy = parsePolicy(POLICY, 'bench-policy.yaml');
  const version = advisoryDataVersion(afterDb);
  const now = new Date('2025-03-01T00:00:00Z');
  let rows = 0;
  let distinctRows = 0;
  let failed = 0;
  // What the re-match itself reads from the store (its per-run cache asks this lookup once per key it keeps).
  let storeReads = 0;
  const counted = {
    affected: (e: string, p: string) => {
      storeReads++;
      return afterDb.affected(e, p);
    },
  };
  let fresh = 0;
  const sizes = invs.map((i) => i.packages.length).sort((a, b) => a - b);
  log(
    `figure 9: ${runs} interleaved runs of re-matching ${SBOMS} SBOMs, of ${keys.length} point lookups and of the ${distinct.length} distinct ones`,
  );
  const samples = await interleaved(runs, {
    floor: async () => {
      rows = 0;
      for (const [e, p] of keys) rows += lookup.all(e, p).length;
    },
    distinct: async () => {
      distinctRows = 0;
      for (const [e, p] of distinct) distinctRows += lookup.all(e, p).length;
    },
    portcullis: async () => {
      storeReads = 0;
      const results = store.rematchAll(counted, policy, now, { version });
      failed = results.filter((r) => !r.pass).length;
      fresh = results.reduce((n, r) => n + r.newFindings.length, 0);
      if (results.length !== SBOMS || results.some((r) => r.error)) throw new Error('a stored SBOM did not re-match');
    },
  });
  afterDb.close();
  raw.close();
  state.close();
  const ours = median(samples.portcullis);
  const floor = median(samples.floor);
  const least = median(samples.distinct);
  const ratio = ours / floor;
  return {
    id: 9,
    title: `re-matching ${SBOMS} stored SBOMs after an advisory update (${keys.length} package lookups, ${rows} advisory rows)`,
    rows: [
      {
        measure: 'SbomStore.rematchAll vs (a) the per-SBOM point lookups',
        ours: secs(ours),
        reference: secs(floor),
        ratio,
        target: `<= ${TARGET}x`,
        met: ratio <= TARGET,
      },
      {
        measure: `SbomStore.rematchAll vs (b) the ${distinct.length} distinct package lookups`,
        ours: secs(ours),
        reference: secs(least),
        ratio: ours / least,
        target: 'informative',
      },
    ],
    notes: [
      `medians of ${runs}; re-match ${spread(samples.portcullis)}, lookups ${spread(samples.floor)}, distinct lookups ${spread(samples.distinct)}; best-run ratios ${bestRatio(samples.portcullis, samples.floor).toFixed(2)}x and ${bestRatio(samples.portcullis, samples.distinct).toFixed(2)}x`,
      `floor (a), the target's: the ${keys.length} lookups each SBOM's packages need, per SBOM (${rows} rows), as a naive re-match makes them; floor (b): each of the ${distinct.length} distinct (ecosystem, package) keys of all ${SBOMS} SBOMs once (${distinctRows} rows), the least any re-match must read. The re-match shares lookups across SBOMs within a run (it read ${storeReads} keys), so it can beat (a): (b) says what is left beyond the reads`,
      `SBOMs: the bookworm rootfs's ${bookworm.packages.length} packages (70-100% of them) plus 0-60 npm/PyPI/Go/Maven packages named in the store; ${sizes[0]}..${sizes[sizes.length - 1]} packages (median ${sizes[sizes.length >> 1]}); ${mb(stored)} of SQLite`,
      `the update: ${removed} Debian 12 rows of ${UPDATED.join(', ')} absent when the SBOMs were gated (${gateFindings} findings then); the re-match finds ${fresh} new findings and ${failed} of ${SBOMS} images failing`,
      're-matching reads each row (the match data stored beside the SBOM), matches (lookups, version evaluation, alias grouping, CVSS), builds every finding of every image, decides the policy and records the data version; within the run each (ecosystem, package) is read and each (ecosystem, package, version) evaluated once for all images (MatchCache, bounded), findings exactly as matching each image alone gives them',
    ],
    data: {
      sboms: SBOMS,
      lookups: keys.length,
      rows,
      distinctLookups: distinct.length,
      distinctRows,
      storeReads,
      newFindings: fresh,
      failing: failed,
      storedBytes: stored,
      seconds: samples.portcullis,
      floorSeconds: samples.floor,
      distinctFloorSeconds: samples.distinct,
    },
  };
}
