import { oneLine, printable } from '../errors.js';
import { loadPolicy } from '../policy/load.js';
import type { Policy } from '../policy/model.js';
import { AdvisoryDb } from '../store/advisorydb.js';
import type { TagVerdict } from './classify.js';
import type { WatchConfig } from './config.js';
import type { Logger } from './log.js';
import type { ApprovedDigest } from './reconcile.js';
import { advisoryDataVersion, SbomStore } from './sbomstore.js';
import type { WatchState } from './state.js';

/**
 * The SBOM re-match inside the watcher: the reconcile hands over each approved digest (its SBOM stored once), the
 * stored SBOMs are re-matched whenever the advisory database changes (or was never matched against), and an approved
 * tag whose digest no longer passes its registry's policy is reported `failed` with the reasons. Only registries with
 * a `policy:` take part.
 */
export interface Rematcher {
  /** The reconcile's hook: store the SBOM of an approved digest not stored yet. */
  readonly onApproved: (approved: ApprovedDigest) => void;
  /** Re-match what is due against the database as it is now. Throws when the database cannot be read. */
  run(now: Date): { readonly version: string; readonly rematched: number; readonly failing: number };
  /** The verdicts with each approved one whose digest's last re-match did not pass turned into `failed`. */
  apply(verdicts: readonly TagVerdict[]): TagVerdict[];
}

/** The re-match for the registries that name a policy; undefined when none does. Policies are read here (fail early). */
export function createRematcher(
  config: WatchConfig,
  state: WatchState,
  dbPath: string,
  log: Logger,
): Rematcher | undefined {
  const policies = new Map<string, Policy>();
  for (const r of config.registries) if (r.policy !== undefined) policies.set(r.host, loadPolicy(r.policy));
  if (policies.size === 0) return undefined;
  // Checked at start: a watcher that could never re-match would otherwise only log it at every step.
  AdvisoryDb.open(dbPath).close();
  const store = new SbomStore(state.db);
  const warned = new Set<string>();
  return {
    onApproved(a) {
      if (!policies.has(a.host)) return;
      const name = `${a.host}/${a.repository}@${a.digest}`;
      const assessedAt = a.assessment?.assessedAt ?? null;
      // Stored already, with the assessment the approval rests on now: nothing to do. A newer assessment (the image
      // promoted again, say under a changed policy) replaces what is stored, and is re-matched.
      if (store.storedAssessedAt(a.host, a.repository, a.digest) === assessedAt) return;
      const unreadable = `unreadable:${assessedAt ?? 'none'}`;
      if (store.lastMatch(a.host, a.repository, a.digest)?.version === unreadable) return;
      if (a.sbom === undefined) {
        if (!warned.has(name)) {
          warned.add(name);
          log('warn', `approved without a verified SBOM attestation, so it cannot be re-matched: ${name}`, {
            event: 'rematch.no-sbom',
            host: a.host,
            repository: a.repository,
            digest: a.digest,
          });
        }
        return;
      }
      try {
        store.put(a.host, a.repository, a.digest, a.sbom, a.assessment);
      } catch (err) {
        // The gate signed it, but it cannot be read: the image cannot be re-evaluated, which never counts as passing.
        const why = `its SBOM attestation cannot be read for re-matching: ${oneLine(err)}`;
        store.recordUnreadable(a.host, a.repository, a.digest, unreadable, why, new Date());
        log('error', `the SBOM of ${name} cannot be stored: ${oneLine(err)}`, {
          event: 'rematch.store-failed',
          host: a.host,
          repository: a.repository,
          digest: a.digest,
        });
      }
    },
    run(now) {
      const db = AdvisoryDb.open(dbPath);
      try {
        const data = advisoryDataVersion(db);
        let rematched = 0;
        let failing = 0;
        for (const [host, policy] of policies) {
          // A changed policy is due as much as changed advisory data.
          const version = `${data}|${policy.digest}`;
          const results = store.rematchAll(db, policy, now, { version, host, dueOnly: true });
          rematched += results.length;
          for (const r of results) {
            if (r.pass) continue;
            failing++;
            log('warn', `no longer passes after the advisory update: ${r.host}/${r.repository}@${r.digest}`, {
              event: 'rematch.failed',
              host: r.host,
              repository: r.repository,
              digest: r.digest,
              newFindings: r.newFindings.map((f) => f.ruleId).slice(0, 50),
              ...(r.error !== undefined ? { error: r.error } : {}),
            });
          }
        }
        if (rematched > 0) {
          log('info', `re-matched ${rematched} stored SBOMs`, {
            event: 'rematch.done',
            version: data,
            rematched,
            failing,
          });
        }
        return { version: data, rematched, failing };
      } finally {
        db.close();
      }
    },
    apply(verdicts) {
      return verdicts.map((v) => {
        if (v.classification.status !== 'approved' || !policies.has(v.host)) return v;
        const m = store.lastMatch(v.host, v.repository, v.digest);
        if (!m || m.pass) return v;
        const data = (m.version.split('|')[0] ?? '').replace(/#\d+$/, '');
        const detail = printable(
          m.version.startsWith('unreadable:')
            ? `approved by the gate, but ${m.detail}`
            : `approved by the gate, but re-matched against the advisory data of ${data} its SBOM no longer passes: ${m.detail}`,
          800,
        );
        return { ...v, classification: { ...v.classification, status: 'failed', detail } };
      });
    },
  };
}
