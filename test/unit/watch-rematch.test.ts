import { copyFileSync, cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PortcullisError } from '../../src/errors.js';
import type { Finding } from '../../src/findings/finding.js';
import { assess } from '../../src/gate/assess.js';
import type { Assessment, AssessmentPredicate } from '../../src/gate/model.js';
import { buildPredicate } from '../../src/gate/predicate.js';
import { openOciLayout } from '../../src/oci/layout.js';
import { loadPolicy } from '../../src/policy/load.js';
import type { Policy } from '../../src/policy/model.js';
import { toVulnerabilityCycloneDx } from '../../src/report/vuln-cyclonedx.js';
import { attestImage, fetchSignatureImage } from '../../src/sign/actions.js';
import { PREDICATE_TYPES } from '../../src/sign/attestation.js';
import { generateKeyPair, keyId } from '../../src/sign/keys.js';
import { LayoutSignatureStore } from '../../src/sign/layoutstore.js';
import { AdvisoryDb } from '../../src/store/advisorydb.js';
import type { TagVerdict } from '../../src/watch/classify.js';
import { parseWatchConfig } from '../../src/watch/config.js';
import { REMATCHED_RULES, rematch } from '../../src/watch/rematch.js';
import { createRematcher, type Rematcher } from '../../src/watch/rematchstep.js';
import { advisoryDataVersion, readVerifiedSbom, SbomStore } from '../../src/watch/sbomstore.js';
import { WatchState } from '../../src/watch/state.js';
import { EXAMPLE_DIGEST, exampleDb, importUrllib3Update, passingRules, writePolicy } from '../helpers/gate.js';
import { EXAMPLE } from '../helpers/paths.js';

const NOW = new Date('2025-03-01T00:00:00Z');
const SOURCE = `oci:${EXAMPLE}:latest`;

let dir: string;
let before: AdvisoryDb;
let after: AdvisoryDb;
/** The policy the example image passes (vulnerabilities, base image, labels, secrets, misconfigurations). */
let passing: Policy;
/** Vulnerability rules only, allowing exactly the medium findings the example image has before the update. */
let limited: Policy;
/** Any vulnerability at all fails. */
let strict: Policy;
let gate: Assessment;
let predicate: AssessmentPredicate;
/** The SBOM as the gate attests it, after a trip through JSON. */
let sbom: Record<string, unknown>;

/** The gate's own assessment of the example image: the full path (walk, catalogers, match, VEX, policy). */
async function gateAssess(db: AdvisoryDb, policy: Policy): Promise<Assessment> {
  const source = openOciLayout(EXAMPLE, 'latest');
  try {
    return await assess({
      source,
      policy,
      advisories: db,
      database: { path: db.path, updated: db.meta('updated_at') ?? null },
      vex: [],
      now: NOW,
      limits: {},
      warn: () => {},
    });
  } finally {
    await source.close();
  }
}

function sbomOf(a: Assessment): Record<string, unknown> {
  const doc = toVulnerabilityCycloneDx(
    a.platforms.map((p) => ({ inv: p.inv, findings: p.findings })),
    { timestamp: NOW },
  );
  return JSON.parse(JSON.stringify(doc));
}

const vulnerabilities = (a: Assessment): Finding[] =>
  (a.platforms[0]?.findings ?? []).filter((f) => f.kind === 'vulnerability');

function limitsPolicy(medium: number): Policy {
  const yaml = [
    '  vulnerabilities:',
    '    failOn: critical',
    '    packages:',
    '      - package: pkg:npm/minimist',
    '        ignore: true',
    '        reason: dev-only dependency',
    `    limits: { medium: ${medium} }`,
    '',
  ].join('\n');
  return loadPolicy(writePolicy(dir, `limits-${medium}`, yaml));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'watch-rematch-'));
  const beforePath = await exampleDb(dir);
  // The update: a copy of the database with one more real advisory imported into it.
  const afterPath = join(dir, 'after.db');
  copyFileSync(beforePath, afterPath);
  await importUrllib3Update(dir, afterPath);
  before = AdvisoryDb.open(beforePath);
  after = AdvisoryDb.open(afterPath);
  passing = loadPolicy(writePolicy(dir, 'passing', passingRules()));
  strict = loadPolicy(
    writePolicy(dir, 'strict', '  vulnerabilities:\n    failOn: low\n    includeUnimportant: true\n'),
  );
  gate = await gateAssess(before, passing);
  predicate = buildPredicate(
    gate,
    { source: SOURCE, digest: EXAMPLE_DIGEST, mediaType: 'application/vnd.oci.image.manifest.v1+json' },
    passing,
    NOW,
  );
  sbom = sbomOf(gate);
  // The limit is what the gate itself counts before the update.
  const counted = (await gateAssess(before, limitsPolicy(1000))).platforms[0]?.decision.rules.find(
    (x) => x.id === 'vulnerability-limits',
  );
  const medium = Number(/^medium: (\d+) finding/.exec(counted?.reasons[0] ?? '')?.[1]);
  expect(medium).toBeGreaterThan(0);
  limited = limitsPolicy(medium);
});

afterAll(() => {
  before?.close();
  after?.close();
});

describe('re-matching a stored SBOM', () => {
  it('gives the findings and decision of the gate, which walked the image itself', () => {
    expect(gate.pass).toBe(true);
    const r = rematch(sbom, { advisories: before, policy: passing, now: NOW, assessment: predicate });
    const oracle = gate.platforms[0];
    const got = r.platforms[0];
    expect(r.platforms).toHaveLength(1);
    expect(vulnerabilities(gate).length).toBeGreaterThan(10);
    expect(got?.findings).toEqual(vulnerabilities(gate));
    const rematched = (rules: readonly { id: string }[] = []) => rules.filter((x) => REMATCHED_RULES.has(x.id));
    expect(rematched(got?.decision.rules)).toEqual(rematched(oracle?.decision.rules));
    expect(got?.decision.exceptionsUsed).toEqual(oracle?.decision.exceptionsUsed);
    // Rules about the image itself keep the gate's outcome, and say so.
    const others = (rules: readonly { id: string; outcome: string; findings: readonly string[] }[] = []) =>
      rules.filter((x) => !REMATCHED_RULES.has(x.id)).map((x) => [x.id, x.outcome, x.findings]);
    expect(others(got?.decision.rules)).toEqual(others(oracle?.decision.rules));
    expect(r.kept.map((k) => k.id)).toEqual(['base-image', 'labels', 'misconfigurations', 'secrets']);
    for (const k of r.kept)
      expect(k.reason).toMatch(
        /^not re-evaluated: it needs the image itself, not its SBOM; outcome kept from the assessment of 2025-03-01T00:00:00.000Z$/,
      );
    expect(r.pass).toBe(true);
    expect(r.newFindings).toEqual([]);
  });

  it('after an advisory update, reports the new finding as the gate would, and fails a policy that forbids it', async () => {
    const oracle = await gateAssess(after, passing);
    const r = rematch(sbom, { advisories: after, policy: passing, now: NOW, assessment: predicate });
    expect(r.platforms[0]?.findings).toEqual(vulnerabilities(oracle));
    expect(r.newFindings.map((f) => [f.ruleId, f.vulnerability?.package.name, f.severity])).toEqual([
      ['CVE-2024-37891', 'urllib3', 'medium'],
    ]);
    // A medium finding: the passing policy (critical only) still passes.
    expect(r.pass).toBe(true);

    const limitedBefore = rematch(sbom, { advisories: before, policy: limited, now: NOW });
    expect(limitedBefore.pass).toBe(true);
    const limitedAfter = rematch(sbom, { advisories: after, policy: limited, now: NOW });
    const limitedOracle = (await gateAssess(after, limited)).platforms[0]?.decision;
    expect(limitedOracle?.pass).toBe(false);
    expect(limitedAfter.pass).toBe(false);
    expect(limitedAfter.platforms[0]?.decision.rules).toEqual(limitedOracle?.rules);
    const failed = limitedAfter.platforms[0]?.decision.rules.find((x) => x.outcome === 'fail');
    expect(failed?.id).toBe('vulnerability-limits');
    expect(failed?.findings.some((id) => id.includes('CVE-2024-37891'))).toBe(true);
    expect(limitedAfter.kept).toEqual([]);
  });

  it('keeps an SBOM whose packages no advisory touches at PASS, even under a policy that fails on anything', () => {
    const untouched = new Set(['base-files', 'bash', 'coreutils', 'gzip']);
    const components = (sbom.components as { type: string; name: string }[]).filter(
      (c) => c.type === 'operating-system' || untouched.has(c.name),
    );
    expect(components).toHaveLength(5);
    const clean = { ...sbom, components, vulnerabilities: [] };
    for (const advisories of [before, after]) {
      const r = rematch(clean, { advisories, policy: strict, now: NOW });
      expect(r.platforms[0]?.inv.packages).toHaveLength(4);
      expect(r.platforms[0]?.findings).toEqual([]);
      expect(r.pass).toBe(true);
    }
    // The whole SBOM fails the same policy: the pass above is not for want of matching.
    expect(rematch(sbom, { advisories: after, policy: strict, now: NOW }).pass).toBe(false);
  });

  it('fails closed on rules it cannot re-evaluate when no stored outcome under this policy exists', () => {
    const none = rematch(sbom, { advisories: before, policy: passing, now: NOW });
    expect(none.pass).toBe(false);
    expect(none.kept.map((k) => k.outcome)).toEqual(['error', 'error', 'error', 'error']);
    expect(none.kept[0]?.reason).toMatch(/needs the image itself, not its SBOM, and no stored assessment gives/);
    const other = rematch(sbom, {
      advisories: before,
      policy: { ...passing, digest: `sha256:${'0'.repeat(64)}` },
      now: NOW,
      assessment: predicate,
    });
    expect(other.pass).toBe(false);
    expect(other.kept[0]?.reason).toMatch(/made under another policy .*re-assess the image with portcullis gate$/);
  });

  it('refuses hostile SBOMs with one line', () => {
    for (const doc of [null, [], { bomFormat: 'CycloneDX', specVersion: '1.6', components: 'x' }]) {
      let err: unknown;
      try {
        rematch(doc, { advisories: before, policy: passing, now: NOW, where: 'stored SBOM' });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(PortcullisError);
      expect((err as PortcullisError).code).toBe('SBOM_INVALID');
      expect((err as Error).message).toMatch(/^stored SBOM: \$[^\n]*$/);
    }
  });
});

describe('the SBOM store', () => {
  it('stores verified SBOMs, knows which need a re-match, and re-matches them all', () => {
    const db = new Database(':memory:');
    const store = new SbomStore(db);
    const clean = {
      ...sbom,
      components: (sbom.components as { type: string; name: string }[]).filter(
        (c) => ['operating-system', 'library'].includes(c.type) && ['debian', 'bash', 'gzip'].includes(c.name),
      ),
      vulnerabilities: [],
    };
    store.put('registry.example', 'team/app', EXAMPLE_DIGEST, sbom, predicate, NOW);
    store.put('registry.example', 'team/clean', `sha256:${'c'.repeat(64)}`, clean, undefined, NOW);
    expect(store.all().map((s) => s.repository)).toEqual(['team/app', 'team/clean']);
    const v1 = advisoryDataVersion(before);
    const v2 = advisoryDataVersion(after);
    expect(v1).not.toBe(v2);
    expect(store.needsRematch(v1)).toHaveLength(2);

    const first = store.rematchAll(before, limited, NOW, { version: v1 });
    expect(first.map((r) => [r.repository, r.pass, r.newFindings.length])).toEqual([
      ['team/app', true, 0],
      ['team/clean', true, 0],
    ]);
    expect(store.needsRematch(v1)).toEqual([]);
    expect(store.needsRematch(v2).map((s) => s.matchedVersion)).toEqual([v1, v1]);

    const second = store.rematchAll(after, limited, NOW, { version: v2 });
    const app = second[0];
    expect(app?.pass).toBe(false);
    expect(app?.newFindings.map((f) => f.ruleId)).toEqual(['CVE-2024-37891']);
    expect(app?.decisions[0]?.rules.find((x) => x.id === 'vulnerability-limits')?.outcome).toBe('fail');
    expect(second[1]).toMatchObject({ repository: 'team/clean', pass: true, newFindings: [] });
    expect(store.needsRematch(v2)).toEqual([]);
    // The compact match data stored beside the SBOM gives what reading the whole SBOM again gives.
    db.prepare("UPDATE watch_sboms SET match = NULL WHERE repository = 'team/app'").run();
    const full = store.rematchAll(after, limited, NOW)[0];
    expect(full?.decisions).toEqual(app?.decisions);
    expect(full?.newFindings).toEqual(app?.newFindings);

    // Storing again (a re-gated digest) resets what it was matched against.
    store.put('registry.example', 'team/clean', `sha256:${'c'.repeat(64)}`, clean, undefined, NOW);
    expect(store.needsRematch(v2).map((s) => s.repository)).toEqual(['team/clean']);
    expect(store.remove('registry.example', 'team/clean', `sha256:${'c'.repeat(64)}`)).toBe(true);
    expect(store.all()).toHaveLength(1);
    db.close();
  });

  it('refuses hostile SBOMs before storing them, and reports a damaged row as failing, not passing', () => {
    const db = new Database(':memory:');
    const store = new SbomStore(db);
    const refused = (doc: unknown): string => {
      try {
        store.put('registry.example', 'team/x', EXAMPLE_DIGEST, doc);
      } catch (err) {
        expect(err).toBeInstanceOf(PortcullisError);
        expect((err as PortcullisError).code).toBe('SBOM_INVALID');
        return (err as Error).message;
      }
      throw new Error('stored');
    };
    expect(refused({ bomFormat: 'CycloneDX', specVersion: '1.6', components: [1] })).toBe(
      `SBOM of registry.example/team/x@${EXAMPLE_DIGEST}: $.components[0]: expected an object, found 1`,
    );
    // Nested past the stack where the reader does not look: still never stored, still one line.
    let deep: unknown = {};
    for (let i = 0; i < 200_000; i++) deep = { x: deep };
    expect(refused({ ...sbom, metadata: { ...(sbom.metadata as object), extra: deep } })).toBe(
      `SBOM of registry.example/team/x@${EXAMPLE_DIGEST}: nested too deeply to store`,
    );
    expect(store.all()).toEqual([]);

    store.put('registry.example', 'team/app', EXAMPLE_DIGEST, sbom, predicate, NOW);
    store.put('registry.example', 'team/broken', EXAMPLE_DIGEST, sbom, predicate, NOW);
    store.put('registry.example', 'team/old', EXAMPLE_DIGEST, sbom, predicate, NOW);
    // The compact match data damaged; and a row without it, read from its full SBOM, which is damaged too.
    db.prepare(
      `UPDATE watch_sboms SET match = '{"v":1,"notes":[],"platforms":[{"packages":7}]}' WHERE repository = 'team/broken'`,
    ).run();
    db.prepare(`UPDATE watch_sboms SET match = NULL, sbom = '{"bomFormat": 1}' WHERE repository = 'team/old'`).run();
    const results = store.rematchAll(before, passing, NOW);
    const where = (repo: string) => `stored SBOM of registry.example/${repo}@${EXAMPLE_DIGEST}`;
    expect(results.map((r) => [r.repository, r.pass, r.error])).toEqual([
      ['team/app', true, undefined],
      ['team/broken', false, `${where('team/broken')}: the stored match data is damaged`],
      ['team/old', false, `${where('team/old')}: $.bomFormat: expected 'CycloneDX'`],
    ]);
    db.close();
  });

  it('records re-matches apart from the SBOMs, and reads a file from before that: its SBOMs re-match once', () => {
    const db = new Database(':memory:');
    // The table as the first watcher wrote it, the outcome inside the SBOM's row.
    db.exec(`CREATE TABLE watch_sboms (host TEXT NOT NULL, repository TEXT NOT NULL, digest TEXT NOT NULL,
      stored_at TEXT NOT NULL, sbom TEXT NOT NULL, match TEXT, assessment TEXT, matched_version TEXT, matched_at TEXT,
      matched_pass INTEGER, matched_detail TEXT, UNIQUE (host, repository, digest))`);
    const store = new SbomStore(db);
    store.put('registry.example', 'team/app', EXAMPLE_DIGEST, sbom, predicate, NOW);
    db.prepare("UPDATE watch_sboms SET matched_version = 'old', matched_pass = 1").run();
    const v2 = advisoryDataVersion(after);
    expect(store.needsRematch(v2).map((s) => [s.repository, s.matchedVersion])).toEqual([['team/app', null]]);
    expect(store.lastMatch('registry.example', 'team/app', EXAMPLE_DIGEST)).toBeUndefined();
    const [r] = store.rematchAll(after, limited, NOW, { version: v2, dueOnly: true });
    expect(r?.pass).toBe(false);
    expect(store.needsRematch(v2)).toEqual([]);
    expect(store.rematchAll(after, limited, NOW, { version: v2, dueOnly: true })).toEqual([]);
    expect(store.lastMatch('registry.example', 'team/app', EXAMPLE_DIGEST)).toMatchObject({ pass: false, version: v2 });
    // Removed and stored again: nothing of the old outcome is left to inherit.
    expect(store.remove('registry.example', 'team/app', EXAMPLE_DIGEST)).toBe(true);
    expect(store.lastMatch('registry.example', 'team/app', EXAMPLE_DIGEST)).toBeUndefined();
    store.put('registry.example', 'team/app', EXAMPLE_DIGEST, sbom, predicate, NOW);
    expect(store.lastMatch('registry.example', 'team/app', EXAMPLE_DIGEST)).toBeUndefined();
    expect(store.needsRematch(v2)).toHaveLength(1);
    db.close();
  });

  it('reads the SBOM attestation only when it verifies with a trusted key for the digest', async () => {
    const layout = join(dir, 'layout');
    cpSync(EXAMPLE, layout, { recursive: true });
    const signatures = new LayoutSignatureStore(layout);
    const key = generateKeyPair();
    const trusted = { key: key.publicKey, id: keyId(key.publicKey), name: 'gate key' };
    const predicateType = PREDICATE_TYPES.cyclonedx as string;
    const identity = 'registry.example/team/app';
    await attestImage(signatures, EXAMPLE_DIGEST, key, {
      identity,
      predicateType: PREDICATE_TYPES.assessment as string,
      predicate,
    });
    await attestImage(signatures, EXAMPLE_DIGEST, key, { identity, predicateType, predicate: sbom });
    const att = await fetchSignatureImage(signatures, EXAMPLE_DIGEST, 'att');
    expect(readVerifiedSbom(att, EXAMPLE_DIGEST, [trusted])).toEqual(sbom);
    const stranger = generateKeyPair();
    const untrusted = { key: stranger.publicKey, id: keyId(stranger.publicKey), name: 'other key' };
    expect(readVerifiedSbom(att, EXAMPLE_DIGEST, [untrusted])).toBeUndefined();
    expect(readVerifiedSbom(att, `sha256:${'e'.repeat(64)}`, [trusted])).toBeUndefined();
    // A later SBOM by an untrusted key does not displace the trusted one.
    await attestImage(signatures, EXAMPLE_DIGEST, stranger, { identity, predicateType, predicate: { forged: true } });
    expect(
      readVerifiedSbom(await fetchSignatureImage(signatures, EXAMPLE_DIGEST, 'att'), EXAMPLE_DIGEST, [trusted]),
    ).toEqual(sbom);
  });
});

describe('the re-match inside the watcher', () => {
  const HOST = 'registry.test:5000';
  const DIGEST = `sha256:${'ab'.repeat(32)}`;
  const configFor = (policy: Policy) =>
    parseWatchConfig(
      [
        'apiVersion: portcullis.dev/v1alpha1',
        'kind: WatchConfig',
        'registries:',
        `  - host: ${HOST}`,
        '    repositories: [prod/**]',
        '    trustPolicy: trust.yaml',
        '    maxAssessmentAge: 7d',
        `    policy: ${policy.file}`,
        '',
      ].join('\n'),
      join(dir, 'watch.yaml'),
    );
  const approvedVerdict = (): TagVerdict => ({
    host: HOST,
    repository: 'prod/app',
    tag: '1.0',
    digest: DIGEST,
    classification: { status: 'approved', detail: 'signed and assessed PASS', assessedAt: predicate.assessedAt },
  });
  const silent = () => {};

  it('stores once per assessment; a newer assessment (the image promoted again) replaces it and is re-matched', () => {
    const state = WatchState.open(':memory:');
    const r = createRematcher(configFor(passing), state, before.path, silent) as Rematcher;
    const store = new SbomStore(state.db);
    r.onApproved({ host: HOST, repository: 'prod/app', digest: DIGEST, sbom, assessment: predicate });
    expect(r.run(NOW).rematched).toBe(1);
    expect(r.apply([approvedVerdict()])[0]?.classification.status).toBe('approved');
    // Seen again with the same assessment: nothing stored again, nothing due.
    r.onApproved({ host: HOST, repository: 'prod/app', digest: DIGEST, sbom, assessment: predicate });
    expect(r.run(NOW).rematched).toBe(0);
    const newer = { ...predicate, assessedAt: '2025-03-02T00:00:00.000Z' };
    r.onApproved({ host: HOST, repository: 'prod/app', digest: DIGEST, sbom, assessment: newer });
    expect(store.storedAssessedAt(HOST, 'prod/app', DIGEST)).toBe(newer.assessedAt);
    expect(store.lastMatch(HOST, 'prod/app', DIGEST)).toBeUndefined();
    expect(r.run(NOW).rematched).toBe(1);
    state.close();
  });

  it('re-matches when the policy changes, not only when the advisory data does', () => {
    const state = WatchState.open(':memory:');
    const first = createRematcher(configFor(passing), state, before.path, silent) as Rematcher;
    first.onApproved({ host: HOST, repository: 'prod/app', digest: DIGEST, sbom, assessment: predicate });
    expect(first.run(NOW).rematched).toBe(1);
    expect(first.run(NOW).rematched).toBe(0);
    const second = createRematcher(configFor(strict), state, before.path, silent) as Rematcher;
    expect(second.run(NOW).rematched).toBe(1);
    // The stored assessment was made under another policy: its image-only rules cannot be kept, so it fails.
    const [v] = second.apply([approvedVerdict()]);
    expect(v?.classification.status).toBe('failed');
    expect(v?.classification.detail).toMatch(/^approved by the gate, but re-matched against the advisory data of /);
    state.close();
  });

  it('an SBOM the gate signed but the reader refuses fails the image once, until a newer assessment brings a readable one', () => {
    const state = WatchState.open(':memory:');
    const logged: string[] = [];
    const r = createRematcher(configFor(passing), state, before.path, (_l, msg) => logged.push(msg)) as Rematcher;
    const broken = { ...sbom, components: 'not a list' };
    r.onApproved({ host: HOST, repository: 'prod/app', digest: DIGEST, sbom: broken, assessment: predicate });
    r.onApproved({ host: HOST, repository: 'prod/app', digest: DIGEST, sbom: broken, assessment: predicate });
    expect(logged.filter((m) => m.includes('cannot be stored'))).toHaveLength(1);
    r.run(NOW);
    const [v] = r.apply([approvedVerdict()]);
    expect(v?.classification.status).toBe('failed');
    expect(v?.classification.detail).toMatch(
      /its SBOM attestation cannot be read for re-matching: SBOM of .*: \$\.components: expected an array/,
    );
    const newer = { ...predicate, assessedAt: '2025-03-02T00:00:00.000Z' };
    r.onApproved({ host: HOST, repository: 'prod/app', digest: DIGEST, sbom, assessment: newer });
    r.run(NOW);
    expect(r.apply([approvedVerdict()])[0]?.classification.status).toBe('approved');
    state.close();
  });

  it('refuses to start without the advisory database it would re-match against', () => {
    const state = WatchState.open(':memory:');
    expect(() => createRematcher(configFor(passing), state, join(dir, 'missing.db'), silent)).toThrow(
      /no advisory database at .*missing\.db/,
    );
    state.close();
  });
});
