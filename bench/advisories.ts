import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { matchInventory } from '../src/advisories/match.js';
import { severityOf } from '../src/advisories/severity.js';
import { SCHEME_CHOOSER } from '../src/advisories/versions/index.js';
import type { Inventory } from '../src/inventory/image.js';
import type { Package, PackageType } from '../src/inventory/model.js';
import { AdvisoryDb, SCHEMA_VERSION } from '../src/store/advisorydb.js';
import { advisoryDataDir, BENCH_CACHE, CLI } from './env.js';
import { bestRatio, type FigureResult, secs, spread } from './figure.js';
import { assertOk, interleaved, median, runChild } from './measure.js';

const IMPORT_TARGET = 50_000;
const MATCH_TARGET = 2;
const MATCH_PACKAGES = 10_000;

function dataDir(): string {
  const dir = advisoryDataDir();
  if (!dir) throw new Error('no advisory data: set PORTCULLIS_ADVISORY_DATA or put it at ../shared/advisories');
  return dir;
}

const DB = join(BENCH_CACHE, 'advisories', 'all.db');

/** The schema a store file was written with, or undefined when there is none. */
function schemaOf(file: string): string | undefined {
  if (!existsSync(file)) return undefined;
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as { value: string } | undefined)
      ?.value;
  } finally {
    db.close();
  }
}

/**
 * The whole advisory data set imported (figure 4 leaves it; else it is imported once, and again when an older
 * Portcullis wrote it), for figures 5 and 6.
 */
export async function ensureAdvisoryDb(log: (msg: string) => void): Promise<string> {
  if (schemaOf(DB) !== String(SCHEMA_VERSION)) {
    rmSync(DB, { force: true });
    log('importing the advisory data first');
    mkdirSync(join(BENCH_CACHE, 'advisories'), { recursive: true });
    assertOk(await runChild(process.execPath, [CLI, 'db', 'import', dataDir(), '--db', DB, '-q']), 'db import');
  }
  return DB;
}

function jsonFiles(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) jsonFiles(p, out);
    else if (e.name.endsWith('.json')) out.push(p);
  }
  return out;
}

/** Figure 4: `db import` of the whole advisory data set, in records per second, beside reading and parsing it. */
export async function importFigure(runs: number, log: (msg: string) => void): Promise<FigureResult> {
  const data = dataDir();
  const files = jsonFiles(data);
  mkdirSync(join(BENCH_CACHE, 'advisories'), { recursive: true });
  log(`figure 4: ${runs} interleaved runs of 'db import' (${files.length} files) and the read+JSON.parse floor`);
  const samples = await interleaved(runs, {
    floor: async () => {
      for (const f of files) JSON.parse(readFileSync(f, 'utf8'));
    },
    portcullis: async () => {
      rmSync(DB, { force: true });
      assertOk(await runChild(process.execPath, [CLI, 'db', 'import', data, '--db', DB, '-q']), 'db import');
    },
  });
  const db = new Database(DB, { readonly: true });
  const records = (db.prepare('SELECT count(*) AS n FROM advisories').get() as { n: number }).n;
  const affected = (db.prepare('SELECT count(*) AS n FROM affected').get() as { n: number }).n;
  db.close();
  const ours = median(samples.portcullis);
  const perSecond = records / ours;
  const best = records / Math.min(...samples.portcullis);
  return {
    id: 4,
    title: `advisory import, ${data} (${files.length} files, ${records} records, ${affected} affected rows)`,
    rows: [
      {
        measure: "records/s of 'db import' (whole command)",
        ours: `${Math.round(perSecond)}/s (${secs(ours)})`,
        reference: `read+JSON.parse only: ${secs(median(samples.floor))}`,
        ratio: ours / median(samples.floor),
        target: `>= ${IMPORT_TARGET}/s`,
        met: perSecond >= IMPORT_TARGET,
      },
    ],
    notes: [
      `medians of ${runs}; import ${spread(samples.portcullis)} (best ${Math.round(best)}/s), floor ${spread(samples.floor)}`,
      'the ratio column is informative: the import parses, normalises and indexes what the floor only parses',
    ],
    data: { records, affected, files: files.length, seconds: samples.portcullis, floorSeconds: samples.floor },
  };
}

const TYPES: Record<string, PackageType> = {
  npm: 'npm',
  PyPI: 'pypi',
  Go: 'golang',
  Maven: 'maven',
  RubyGems: 'gem',
  'Debian:12': 'deb',
};

/** A version that exercises the ranges: the entry's first fixed (or introduced) version, else a listed one. */
function versionOf(ranges: string, versions: string, prefer: 'fixed' | 'introduced'): string | undefined {
  const events = (JSON.parse(ranges) as { events: Record<string, string>[] }[]).flatMap((r) => r.events);
  const pick = (k: string) => events.map((e) => e[k]).find((v) => v && v !== '0');
  const other = prefer === 'fixed' ? 'introduced' : 'fixed';
  return pick(prefer) ?? pick(other) ?? (JSON.parse(versions) as string[])[0];
}

/**
 * 10,000 packages named in the store (Debian 12 and the language ecosystems), each at a version its ranges name: the
 * worst case, as every package has advisories to evaluate. When the store names fewer packages, the rest are the same
 * names again at another version (as an image with two copies of a library has).
 */
function packagesFromStore(db: Database.Database): { packages: Package[]; keys: [string, string][] } {
  const rows = db
    .prepare(
      `SELECT ecosystem, package, min(ranges) AS ranges, min(versions) AS versions FROM affected
       WHERE ecosystem IN (${Object.keys(TYPES)
         .map(() => '?')
         .join(',')}) GROUP BY ecosystem, package ORDER BY ecosystem, package`,
    )
    .all(...Object.keys(TYPES)) as { ecosystem: string; package: string; ranges: string; versions: string }[];
  const step = Math.max(1, rows.length / MATCH_PACKAGES);
  const packages: Package[] = [];
  const keys: [string, string][] = [];
  for (let i = 0; packages.length < MATCH_PACKAGES && Math.floor(i) < 2 * rows.length; i += step) {
    const r = rows[Math.floor(i) % rows.length] as (typeof rows)[number];
    const version = versionOf(r.ranges, r.versions, i < rows.length ? 'fixed' : 'introduced') ?? '1.0.0';
    const type = TYPES[r.ecosystem] as PackageType;
    const [group, artifact] = type === 'maven' ? r.package.split(':') : [undefined, r.package];
    const name = artifact ?? r.package;
    const purl = `pkg:${type}/${group ? `${encodeURIComponent(group)}/` : ''}${encodeURIComponent(name)}@${encodeURIComponent(version)}`;
    packages.push({
      name,
      version,
      type,
      purl,
      ...(type === 'deb' ? { source: { name: r.package, version } } : {}),
      licenses: [],
      locations: [],
      layer: 0,
      foundBy: 'bench',
    });
    keys.push([r.ecosystem, r.package]);
  }
  return { packages, keys };
}

/** Figure 5: matching 10,000 packages against the store, beside the same number of indexed point lookups. */
export async function matchFigure(runs: number, log: (msg: string) => void): Promise<FigureResult> {
  await ensureAdvisoryDb((m) => log(`figure 5: ${m}`));
  const raw = new Database(DB, { readonly: true });
  const { packages, keys } = packagesFromStore(raw);
  const lookup = raw.prepare('SELECT * FROM affected WHERE ecosystem = ? AND package = ?');
  const store = AdvisoryDb.open(DB);
  const inv = {
    subject: { kind: 'image', source: 'bench', layers: [] },
    os: { id: 'debian', versionId: '12' },
    packages,
  } as unknown as Inventory;
  let findings = 0;
  let rows = 0;
  log(`figure 5: ${runs} interleaved runs of matching ${packages.length} packages and ${keys.length} point lookups`);
  const samples = await interleaved(runs, {
    floor: async () => {
      rows = 0;
      for (const [e, p] of keys) rows += lookup.all(e, p).length;
    },
    portcullis: async () => {
      findings = matchInventory(inv, store, SCHEME_CHOOSER, severityOf).findings.length;
    },
  });
  store.close();
  raw.close();
  const ours = median(samples.portcullis);
  const floor = median(samples.floor);
  const ratio = ours / floor;
  return {
    id: 5,
    title: `matching ${packages.length} packages (${rows} advisory rows, ${findings} findings)`,
    rows: [
      {
        measure: 'matchInventory vs indexed point lookups',
        ours: secs(ours),
        reference: secs(floor),
        ratio,
        target: `<= ${MATCH_TARGET}x`,
        met: ratio <= MATCH_TARGET,
      },
    ],
    notes: [
      `medians of ${runs}; match ${spread(samples.portcullis)}, lookups ${spread(samples.floor)}; best-run ratio ${bestRatio(samples.portcullis, samples.floor).toFixed(2)}x`,
      'the lookups fetch the same rows by (ecosystem, package); matching adds the advisory join, version evaluation, alias grouping and CVSS scoring',
      `matching reads each (ecosystem, package) once for all its versions: ${new Set(keys.map(([e, p]) => `${e}\0${p}`)).size} distinct of the ${keys.length} lookups`,
    ],
    data: { packages: packages.length, rows, findings, seconds: samples.portcullis, floorSeconds: samples.floor },
  };
}
