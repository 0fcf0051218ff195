/**
 * The watcher's store of verified SBOMs, in its own SQLite file (the tables are created here; the connection is the
 * caller's): one row per (registry, repository, digest) with the CycloneDX predicate the gate attested, the assessment
 * attested beside it, and the advisory data version it was last re-matched against. `rematchAll` re-matches every
 * stored SBOM without pulling an image (rematch.ts).
 */
import type BetterSqlite3 from 'better-sqlite3';
import type { AdvisoryLookup } from '../advisories/match.js';
import { MatchCache } from '../advisories/matchcache.js';
import { fail, oneLine, PortcullisError, printable } from '../errors.js';
import type { Finding } from '../findings/finding.js';
import type { AssessmentPredicate } from '../gate/model.js';
import {
  parseCycloneDxText,
  readCycloneDx,
  type SbomInventory,
  type SbomVulnerability,
} from '../inventory/fromcyclonedx.js';
import type { Inventory } from '../inventory/image.js';
import type { OsRelease, Package } from '../inventory/model.js';
import type { Decision, Policy } from '../policy/model.js';
import { PREDICATE_TYPES } from '../sign/attestation.js';
import { type FetchedSignatureImage, type TrustedKey, verifyAttestations } from '../sign/verify.js';
import type { VexStatement } from '../vex/model.js';
import { type KeptRule, rematchRead } from './rematch.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS watch_sboms (
  host TEXT NOT NULL,
  repository TEXT NOT NULL,
  digest TEXT NOT NULL,
  stored_at TEXT NOT NULL,
  sbom TEXT NOT NULL,          -- the verified CycloneDX predicate, JSON
  match TEXT,                  -- what matching reads of it (fromcyclonedx.ts), JSON: re-matching skips the full read
  assessment TEXT,             -- the verified assessment predicate, JSON, when there was one
  UNIQUE (host, repository, digest)
);
-- The last re-match of each stored SBOM, apart from it: SQLite rewrites a whole row on UPDATE, and recording a
-- re-match must not rewrite the SBOM beside it. (Files from before this table keep unused matched_* columns in
-- watch_sboms: their SBOMs count as never re-matched, and are re-matched once.)
CREATE TABLE IF NOT EXISTS watch_matches (
  host TEXT NOT NULL,
  repository TEXT NOT NULL,
  digest TEXT NOT NULL,
  matched_version TEXT NOT NULL, -- the advisory data version last re-matched against
  matched_at TEXT NOT NULL,
  matched_pass INTEGER NOT NULL,
  matched_detail TEXT,         -- one line: why the last re-match did not pass
  PRIMARY KEY (host, repository, digest)
) WITHOUT ROWID;
`;

/** The stored SBOMs with the version of their last re-match (NULL: never). */
const WITH_MATCH = `SELECT s.host AS host, s.repository AS repository, s.digest AS digest, s.stored_at AS stored_at,
  m.matched_version AS matched_version
  FROM watch_sboms s LEFT JOIN watch_matches m
    ON m.host = s.host AND m.repository = s.repository AND m.digest = s.digest`;

/** One stored SBOM's key. */
export interface StoredSbom {
  readonly host: string;
  readonly repository: string;
  readonly digest: string;
  readonly storedAt: string;
  /** The advisory data version of the last re-match, when there was one. */
  readonly matchedVersion: string | null;
}

/** What re-matching one stored SBOM gave. `error`: it could not be read, which never counts as passing. */
export interface Rematched {
  readonly host: string;
  readonly repository: string;
  readonly digest: string;
  readonly pass: boolean;
  /** One decision per platform. */
  readonly decisions: readonly Decision[];
  /** Active findings the stored assessment did not report. */
  readonly newFindings: readonly Finding[];
  /** Rules not re-evaluated from the SBOM, and the outcome they keep. */
  readonly kept: readonly KeptRule[];
  readonly notes: readonly string[];
  readonly error?: string;
}

/** The version of the advisory data: the store's last commit time and generation. */
export function advisoryDataVersion(db: { meta(key: string): string | undefined }): string {
  return `${db.meta('updated_at') ?? 'never'}#${db.meta('generation') ?? '0'}`;
}

type Row = {
  host: string;
  repository: string;
  digest: string;
  stored_at: string;
  matched_version: string | null;
};

export class SbomStore {
  private readonly upsert: BetterSqlite3.Statement;
  private readonly unmatch: BetterSqlite3.Statement;
  private readonly byRowid: BetterSqlite3.Statement;
  private readonly fullByRowid: BetterSqlite3.Statement;

  constructor(private readonly db: BetterSqlite3.Database) {
    db.exec(SCHEMA);
    this.upsert = db.prepare(
      `INSERT INTO watch_sboms (host, repository, digest, stored_at, sbom, match, assessment)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (host, repository, digest) DO UPDATE SET stored_at = excluded.stored_at, sbom = excluded.sbom,
         match = excluded.match, assessment = excluded.assessment`,
    );
    this.unmatch = db.prepare('DELETE FROM watch_matches WHERE host = ? AND repository = ? AND digest = ?');
    this.byRowid = db.prepare('SELECT match, assessment FROM watch_sboms WHERE rowid = ?');
    this.fullByRowid = db.prepare('SELECT sbom FROM watch_sboms WHERE rowid = ?');
  }

  /**
   * Store a verified SBOM predicate (and the assessment attested with it), replacing what was stored for the digest.
   * The document is read first: one the re-match could not read is refused here (SBOM_INVALID), not stored.
   */
  put(
    host: string,
    repository: string,
    digest: string,
    sbom: unknown,
    assessment?: AssessmentPredicate,
    now: Date = new Date(),
  ): void {
    const where = `SBOM of ${printable(host, 100)}/${printable(repository, 200)}@${printable(digest, 80)}`;
    const read = readCycloneDx(sbom, where);
    const values = [
      host,
      repository,
      digest,
      now.toISOString(),
      serialise(sbom, where),
      compact(read),
      assessment === undefined ? null : serialise(assessment, `assessment of ${where.slice(8)}`),
    ];
    // A new SBOM for the digest has not been re-matched yet.
    this.db.transaction(() => {
      this.upsert.run(values);
      this.unmatch.run(host, repository, digest);
    })();
  }

  /** Is an SBOM stored for this digest? */
  has(host: string, repository: string, digest: string): boolean {
    return this.storedAssessedAt(host, repository, digest) !== undefined;
  }

  /**
   * The `assessedAt` of the assessment stored beside the digest's SBOM: undefined when no SBOM is stored, null when it
   * was stored without an assessment (or one without the field).
   */
  storedAssessedAt(host: string, repository: string, digest: string): string | null | undefined {
    const row = this.db
      .prepare(
        `SELECT json_extract(assessment, '$.assessedAt') AS at FROM watch_sboms
         WHERE host = ? AND repository = ? AND digest = ?`,
      )
      .get(host, repository, digest) as { at: unknown } | undefined;
    if (!row) return undefined;
    return typeof row.at === 'string' ? row.at : null;
  }

  /**
   * Record that the gate's SBOM for the digest cannot be read: a failing outcome (the image cannot be re-evaluated,
   * which is never a pass), under a version naming the assessment it came with, so the same document is not read again.
   */
  recordUnreadable(host: string, repository: string, digest: string, version: string, detail: string, now: Date): void {
    this.db
      .prepare(
        `INSERT OR REPLACE INTO watch_matches (host, repository, digest, matched_version, matched_at, matched_pass,
           matched_detail) VALUES (?, ?, ?, ?, ?, 0, ?)`,
      )
      .run(host, repository, digest, version, now.toISOString(), printable(detail, 600));
  }

  /** The outcome of the digest's last re-match; undefined when it was never re-matched (or nothing is stored). */
  lastMatch(
    host: string,
    repository: string,
    digest: string,
  ): { readonly pass: boolean; readonly version: string; readonly at: string; readonly detail: string } | undefined {
    const row = this.db
      .prepare(
        `SELECT matched_version, matched_at, matched_pass, matched_detail FROM watch_matches
         WHERE host = ? AND repository = ? AND digest = ?`,
      )
      .get(host, repository, digest) as
      | { matched_version: string; matched_at: string; matched_pass: number; matched_detail: string | null }
      | undefined;
    if (!row) return undefined;
    return {
      pass: row.matched_pass === 1,
      version: row.matched_version,
      at: row.matched_at,
      detail: row.matched_detail ?? '',
    };
  }

  /** Every stored SBOM, by registry, repository and digest. */
  all(): StoredSbom[] {
    return this.rows(WITH_MATCH, []);
  }

  /** Forget a digest (its tag moved, or the image was deleted). */
  remove(host: string, repository: string, digest: string): boolean {
    return this.db.transaction(() => {
      this.unmatch.run(host, repository, digest);
      return (
        this.db
          .prepare('DELETE FROM watch_sboms WHERE host = ? AND repository = ? AND digest = ?')
          .run(host, repository, digest).changes > 0
      );
    })();
  }

  /** The SBOMs not yet re-matched against this advisory data version. */
  needsRematch(dbVersion: string): StoredSbom[] {
    return this.rows(`${WITH_MATCH} WHERE m.matched_version IS NULL OR m.matched_version <> ?`, [dbVersion]);
  }

  /**
   * Re-match every stored SBOM against the advisories as they are now. With `version`, each row records that it was
   * matched against it (so `needsRematch(version)` is then empty). A row that cannot be read is reported with its
   * error and as not passing; the others go on.
   */
  rematchAll(
    lookup: AdvisoryLookup,
    policy: Policy,
    now: Date,
    opts: {
      readonly version?: string;
      readonly vex?: readonly VexStatement[];
      /** Only this registry's SBOMs (each registry has its own policy). */
      readonly host?: string;
      /** Only the SBOMs not yet re-matched against `version`. */
      readonly dueOnly?: boolean;
    } = {},
  ): Rematched[] {
    const host = opts.host ?? null;
    const due = opts.dueOnly && opts.version !== undefined ? opts.version : null;
    const keys = this.db
      .prepare(
        `SELECT s.rowid AS id, s.host AS host, s.repository AS repository, s.digest AS digest
         FROM watch_sboms s LEFT JOIN watch_matches m
           ON m.host = s.host AND m.repository = s.repository AND m.digest = s.digest
         WHERE (@host IS NULL OR s.host = @host)
           AND (@due IS NULL OR m.matched_version IS NULL OR m.matched_version <> @due)
         ORDER BY s.host, s.repository, s.digest`,
      )
      .all({ host, due }) as { id: number; host: string; repository: string; digest: string }[];
    const out: Rematched[] = [];
    // The data cannot change during the run: each package is read and each installed version evaluated once.
    const advisories = new MatchCache(lookup);
    for (const k of keys) {
      const row = this.byRowid.get(k.id) as { match: string | null; assessment: string | null } | undefined;
      if (!row) continue; // removed meanwhile
      const where = `stored SBOM of ${k.host}/${k.repository}@${k.digest}`;
      try {
        const assessment = row.assessment === null ? undefined : (JSON.parse(row.assessment) as AssessmentPredicate);
        const read = fromCompact(row.match, where) ?? this.readFull(k.id, where);
        const r = rematchRead(read, {
          advisories,
          policy,
          now,
          ...(opts.vex ? { vex: opts.vex } : {}),
          ...(assessment ? { assessment } : {}),
          where,
        });
        out.push({
          host: k.host,
          repository: k.repository,
          digest: k.digest,
          pass: r.pass,
          decisions: r.platforms.map((p) => p.decision),
          newFindings: r.newFindings,
          kept: r.kept,
          notes: r.notes,
        });
      } catch (err) {
        if (!(err instanceof PortcullisError) && !(err instanceof SyntaxError)) throw err;
        const error = printable(oneLine(err), 400);
        out.push({ ...k, pass: false, decisions: [], newFindings: [], kept: [], notes: [], error });
      }
    }
    if (opts.version !== undefined) {
      // Only for SBOMs still stored (one removed meanwhile gets no orphan record).
      const mark = this.db.prepare(
        `INSERT OR REPLACE INTO watch_matches (host, repository, digest, matched_version, matched_at, matched_pass,
           matched_detail)
         SELECT host, repository, digest, ?, ?, ?, ? FROM watch_sboms WHERE host = ? AND repository = ? AND digest = ?`,
      );
      const at = now.toISOString();
      const version = opts.version;
      this.db.transaction(() => {
        for (const r of out) {
          mark.run(version, at, r.pass ? 1 : 0, r.pass ? null : whyNot(r), r.host, r.repository, r.digest);
        }
      })();
    }
    return out;
  }

  /** The stored document read again (a row from before the compact form, or of another version of it). */
  private readFull(id: number, where: string): SbomInventory {
    const row = this.fullByRowid.get(id) as { sbom: string } | undefined;
    if (!row) fail('SBOM_INVALID', `${where}: gone`);
    return parseCycloneDxText(row.sbom, where);
  }

  private rows(sql: string, params: unknown[]): StoredSbom[] {
    return (this.db.prepare(`${sql} ORDER BY host, repository, digest`).all(...params) as Row[]).map((r) => ({
      host: r.host,
      repository: r.repository,
      digest: r.digest,
      storedAt: r.stored_at,
      matchedVersion: r.matched_version,
    }));
  }
}

/** One line: why a re-match did not pass (the failing rules with their first reason, and the new findings). */
export function whyNot(r: Rematched): string {
  if (r.error !== undefined) return `cannot be re-matched: ${r.error}`;
  const rules = new Map<string, string>();
  for (const d of r.decisions) {
    for (const rule of d.rules) {
      if (rule.outcome !== 'pass' && !rules.has(rule.id)) rules.set(rule.id, rule.reasons[0] ?? rule.outcome);
    }
  }
  const failing = [...rules].map(([id, reason]) => `${id}: ${reason}`);
  const ids = [...new Set(r.newFindings.map((f) => f.ruleId))];
  const found =
    ids.length > 0
      ? `; new: ${ids.slice(0, 10).join(', ')}${ids.length > 10 ? ` and ${ids.length - 10} more` : ''}`
      : '';
  return printable(`${failing.join('; ') || 'the policy fails'}${found}`, 600);
}

/** Bumped when what `compact` writes changes: rows of another version are read from the full SBOM again. */
const COMPACT_VERSION = 1;

/** What the matcher reads of an SBOM, as stored beside it (licences and stats, which matching never reads, left out). */
function compact(read: SbomInventory): string {
  return JSON.stringify({
    v: COMPACT_VERSION,
    notes: read.notes,
    platforms: read.platforms.map((p) => ({
      subject: p.inv.subject,
      os: p.inv.os ?? null,
      unknowns: p.inv.unknowns,
      packages: p.inv.packages.map(({ licenses: _l, ...rest }) => rest),
      vulnerabilities: p.vulnerabilities,
    })),
  });
}

type Compact = {
  v: number;
  notes: string[];
  platforms: {
    subject: Inventory['subject'];
    os: OsRelease | null;
    unknowns: Inventory['unknowns'];
    packages: Omit<Package, 'licenses'>[];
    vulnerabilities: SbomVulnerability[];
  }[];
};

/** The compact form back, undefined when the row has none of this version; a damaged one is SBOM_INVALID. */
function fromCompact(text: string | null, where: string): SbomInventory | undefined {
  if (text === null) return undefined;
  let doc: Compact;
  try {
    doc = JSON.parse(text) as Compact;
  } catch {
    return fail('SBOM_INVALID', `${where}: the stored match data is not JSON`);
  }
  if (doc?.v !== COMPACT_VERSION) return undefined;
  const pkgOk = (x: Omit<Package, 'licenses'>): boolean =>
    typeof x?.name === 'string' &&
    typeof x.version === 'string' &&
    typeof x.type === 'string' &&
    typeof x.purl === 'string' &&
    Number.isInteger(x.layer) &&
    Array.isArray(x.locations);
  const ok =
    Array.isArray(doc.notes) &&
    Array.isArray(doc.platforms) &&
    doc.platforms.every(
      (p) =>
        typeof p?.subject === 'object' &&
        Array.isArray(p.subject?.layers) &&
        Array.isArray(p.packages) &&
        p.packages.every(pkgOk) &&
        Array.isArray(p.vulnerabilities) &&
        Array.isArray(p.unknowns),
    );
  if (!ok) fail('SBOM_INVALID', `${where}: the stored match data is damaged`);
  return {
    notes: doc.notes,
    platforms: doc.platforms.map((p) => ({
      inv: {
        subject: p.subject,
        os: p.os ?? undefined,
        unknowns: p.unknowns,
        packages: p.packages.map((x) => ({ ...x, licenses: [] })),
        stats: { files: 0, layers: [] },
      },
      vulnerabilities: p.vulnerabilities,
    })),
  };
}

function serialise(doc: unknown, where: string): string {
  try {
    return JSON.stringify(doc);
  } catch (err) {
    // JSON.stringify recurses: a document nested past the stack is hostile, not a bug.
    if (err instanceof RangeError) fail('SBOM_INVALID', `${where}: nested too deeply to store`);
    throw err;
  }
}

/**
 * The CycloneDX predicate of the `.att` image's SBOM attestation, verified with the trusted keys for `digest`; the
 * newest when there are several, undefined when none verifies.
 */
export function readVerifiedSbom(
  attImage: FetchedSignatureImage,
  digest: string,
  keys: readonly TrustedKey[],
): unknown | undefined {
  const verdict = verifyAttestations(attImage, { digest }, keys, PREDICATE_TYPES.cyclonedx);
  const newest = [...verdict.verified].sort((a, b) => b.layer - a.layer)[0];
  return newest?.statement.predicate;
}
