import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { matchInventory, type SeverityOf, targetOf } from '../../src/advisories/match.js';
import { MatchCache } from '../../src/advisories/matchcache.js';
import { severityOf } from '../../src/advisories/severity.js';
import { SCHEME_CHOOSER } from '../../src/advisories/versions/index.js';
import { type Inventory, inventoryImage } from '../../src/inventory/image.js';
import type { Package } from '../../src/inventory/model.js';
import { openOciLayout } from '../../src/oci/layout.js';
import { resolveImages } from '../../src/oci/source.js';
import { parsePolicy } from '../../src/policy/load.js';
import { toVulnerabilityCycloneDx } from '../../src/report/vuln-cyclonedx.js';
import { AdvisoryDb } from '../../src/store/advisorydb.js';
import { rematch } from '../../src/watch/rematch.js';
import { SbomStore } from '../../src/watch/sbomstore.js';
import { exampleDb, importUrllib3Update } from '../helpers/gate.js';
import { EXAMPLE } from '../helpers/paths.js';

const NOW = new Date('2025-03-01T00:00:00Z');
const POLICY = parsePolicy(
  'apiVersion: portcullis.dev/v1alpha1\nkind: ImagePolicy\nname: t\nrules:\n  vulnerabilities:\n    failOn: medium\n    limits: { high: 0 }\n',
  'policy.yaml',
);

let before: AdvisoryDb;
let after: AdvisoryDb;
let example: Inventory;
/** Real packages (the example image's, and npm packages its advisories name), each with the versions to try. */
let pool: { pkg: Package; versions: string[] }[];

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'matchcache-'));
  const beforePath = await exampleDb(dir);
  const afterPath = join(dir, 'after.db');
  copyFileSync(beforePath, afterPath);
  await importUrllib3Update(dir, afterPath);
  before = AdvisoryDb.open(beforePath);
  after = AdvisoryDb.open(afterPath);
  const source = openOciLayout(EXAMPLE, 'latest');
  try {
    const [image] = await resolveImages(source);
    if (!image) throw new Error('the example layout holds no image');
    example = await inventoryImage(image);
  } finally {
    await source.close();
  }
  // Every version the advisories name for a package (affected, fixed, limits) besides the installed one, so that
  // images differ in what they are affected by; and one no scheme reads.
  const named = (ecosystem: string, name: string): string[] =>
    after
      .affected(ecosystem, name)
      .flatMap((r) => [...r.versions, ...r.ranges.flatMap((x) => x.events.map((e) => Object.values(e)[0] as string))])
      .filter((v) => v !== '0');
  pool = example.packages.map((pkg) => {
    const t = targetOf(pkg, example.os);
    return { pkg, versions: [pkg.version, ...(t ? named(t.ecosystem, t.name) : []), '~not a version~'] };
  });
  const raw = new Database(afterPath, { readonly: true });
  const npm = raw.prepare("SELECT DISTINCT package FROM affected WHERE ecosystem = 'npm' ORDER BY 1").pluck().all();
  raw.close();
  for (const name of npm as string[]) {
    const versions = named('npm', name);
    pool.push({
      pkg: {
        name,
        version: versions[0] ?? '1.0.0',
        type: 'npm',
        purl: `pkg:npm/${encodeURIComponent(name)}@${versions[0] ?? '1.0.0'}`,
        licenses: [],
        locations: [{ path: `app/node_modules/${name}/package.json`, layer: 0 }],
        layer: 0,
        foundBy: 'test',
      },
      versions: [...versions, '1.0.0'],
    });
  }
  expect(pool.filter((p) => p.versions.length > 2).length).toBeGreaterThan(5);
});

afterAll(() => {
  before?.close();
  after?.close();
});

/** Images: each a random subset of the pool, each package at one of its versions. */
const images = (): fc.Arbitrary<Inventory[]> =>
  fc.array(fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 40 }), { minLength: 1, maxLength: 8 }).map((specs) =>
    specs.map((picks, i) => {
      const hex = (i + 1).toString(16).padStart(64, '0');
      const packages = picks.map(([a, b]) => {
        const { pkg, versions } = pool[a % pool.length] as (typeof pool)[number];
        const version = versions[b % versions.length] as string;
        const purl = `${pkg.purl.slice(0, pkg.purl.lastIndexOf('@'))}@${encodeURIComponent(version)}`;
        // A Debian binary package's advisories are matched by its source package's version.
        const source = pkg.source ? { source: { ...pkg.source, version } } : {};
        return { ...pkg, version, purl, ...source };
      });
      return { ...example, subject: { ...example.subject, digest: `sha256:${hex}` }, packages };
    }),
  );

const limits = fc.constantFrom(undefined, { rows: 3, targets: 2 }, { rows: 1, targets: 1 });

describe('matching many images through one MatchCache', () => {
  it('gives exactly the findings and problems of matching each image on its own (fast-check)', () => {
    fc.assert(
      fc.property(images(), limits, (invs, bound) => {
        const cache = new MatchCache(after, bound);
        const keys = new Set<string>();
        for (const inv of invs) {
          const alone = matchInventory(inv, after, SCHEME_CHOOSER, severityOf);
          expect(matchInventory(inv, cache, SCHEME_CHOOSER, severityOf)).toStrictEqual(alone);
          for (const p of inv.packages) {
            const t = targetOf(p, inv.os);
            if (t) keys.add(`${t.ecosystem}\0${t.name}`);
          }
        }
        // Unbounded for this data, each (ecosystem, package) is read from the store at most once.
        if (bound === undefined) expect(cache.lookups).toBeLessThanOrEqual(keys.size);
      }),
      { numRuns: 60 },
    );
  });

  it('does not serve results memoised under one severity function to another', () => {
    const cache = new MatchCache(after);
    const withCvss = matchInventory(example, cache, SCHEME_CHOOSER, severityOf);
    expect(withCvss.findings.length).toBeGreaterThan(0);
    const flat: SeverityOf = () => ({ severity: 'low' });
    const alone = matchInventory(example, after, SCHEME_CHOOSER, flat);
    expect(matchInventory(example, cache, SCHEME_CHOOSER, flat)).toStrictEqual(alone);
    expect(alone.findings.every((f) => f.severity === 'low')).toBe(true);
  });
});

describe('SbomStore.rematchAll', () => {
  it('re-matches every stored SBOM exactly as re-matching each one on its own does (fast-check)', () => {
    fc.assert(
      fc.property(images(), (invs) => {
        const state = new Database(':memory:');
        const store = new SbomStore(state);
        const docs = invs.map((inv, i) => {
          const findings = matchInventory(inv, before, SCHEME_CHOOSER, severityOf).findings;
          const doc = JSON.parse(JSON.stringify(toVulnerabilityCycloneDx([{ inv, findings }], { timestamp: NOW })));
          store.put(
            'registry.test',
            `app${String(i).padStart(3, '0')}`,
            inv.subject.digest as string,
            doc,
            undefined,
            NOW,
          );
          return doc;
        });
        const all = store.rematchAll(after, POLICY, NOW);
        expect(all.map((r) => r.error)).toEqual(invs.map(() => undefined));
        all.forEach((r, i) => {
          const alone = rematch(docs[i], { advisories: after, policy: POLICY, now: NOW });
          expect(r.pass).toBe(alone.pass);
          expect(r.decisions).toStrictEqual(alone.platforms.map((p) => p.decision));
          expect(r.newFindings).toStrictEqual(alone.newFindings);
          expect(r.kept).toStrictEqual(alone.kept);
          expect(r.notes).toStrictEqual(alone.notes);
        });
        state.close();
      }),
      { numRuns: 25 },
    );
  });
});
