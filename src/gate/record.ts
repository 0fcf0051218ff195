import { randomBytes } from 'node:crypto';
import { rename, unlink, writeFile } from 'node:fs/promises';
import { fail } from '../errors.js';
import { TOOL } from '../version.js';
import type { GateResult, GateStep } from './model.js';

type RuleOutcome = 'pass' | 'fail' | 'error';
const RANK: Readonly<Record<RuleOutcome, number>> = { pass: 0, fail: 1, error: 2 };

/** One rule across platforms: the worst outcome, and each platform's reasons (prefixed when there are several). */
export interface RecordRule {
  readonly id: string;
  readonly outcome: RuleOutcome;
  readonly reasons: readonly string[];
}

/** The decision record `--record FILE` holds. */
export interface GateRecord {
  readonly tool: { readonly name: string; readonly version: string };
  readonly time: string;
  readonly source: string;
  readonly digest: string;
  readonly mediaType: string;
  readonly destination: string;
  readonly tag: string;
  readonly decision: 'PASS' | 'FAIL';
  /** True when production now holds the digest under the tag, signed and attested (by this run or an earlier one). */
  readonly promoted: boolean;
  readonly alreadyPromoted: boolean;
  /** Already promoted: when the assessment attested in production was made (`assessedAt` is this run's). */
  readonly attestedAt?: string;
  /** FAIL, yet production's tag names the digest from an earlier promotion (the gate removes nothing). */
  readonly inProduction?: boolean;
  readonly policy: GateResult['predicate']['policy'];
  readonly assessedAt: string;
  readonly rules: readonly RecordRule[];
  readonly findings: GateResult['predicate']['findings'];
  readonly platforms: readonly { readonly platform: string; readonly digest: string; readonly decision: string }[];
  readonly copied?: NonNullable<GateResult['promotion']>['copied'];
  readonly signature?: string;
  readonly attestations?: NonNullable<GateResult['promotion']>['attestations'];
  /** Wall-clock seconds of each step this run went through, in order (resolve, assess, copy, sign, attest, tag). */
  readonly stepSeconds?: StepSeconds;
}

export type StepSeconds = Partial<Record<GateStep, number>>;

/** Times a run's steps: each lap is the time since the previous lap or reset (or since the clock was made). */
export class StepClock {
  readonly seconds: StepSeconds = {};
  readonly #now: () => bigint;
  #last: bigint;

  constructor(now: () => bigint = process.hrtime.bigint) {
    this.#now = now;
    this.#last = now();
  }

  lap(step: GateStep): void {
    const t = this.#now();
    this.seconds[step] = Number(t - this.#last) / 1e9;
    this.#last = t;
  }

  /** Start the next step's time now (after a pause that belongs to no step). */
  reset(): void {
    this.#last = this.#now();
  }
}

/** The record of a run, from its result and, when timed, its steps' durations. Pure. */
export function buildRecord(r: GateResult, stepSeconds?: StepSeconds): GateRecord {
  const p = r.predicate;
  const several = p.platforms.length > 1;
  const rules = new Map<string, { outcome: RuleOutcome; reasons: string[] }>();
  for (const platform of p.platforms) {
    for (const rule of platform.decision.rules) {
      const acc = rules.get(rule.id) ?? { outcome: 'pass' as RuleOutcome, reasons: [] };
      if (RANK[rule.outcome] > RANK[acc.outcome]) acc.outcome = rule.outcome;
      acc.reasons.push(...rule.reasons.map((x) => (several ? `${platform.platform}: ${x}` : x)));
      rules.set(rule.id, acc);
    }
  }
  return {
    tool: { name: TOOL.name, version: TOOL.version },
    time: r.time,
    source: r.source,
    digest: r.digest,
    mediaType: r.mediaType,
    destination: r.destination,
    tag: r.tag,
    decision: p.decision,
    promoted: r.outcome !== 'failed',
    alreadyPromoted: r.outcome === 'already-promoted',
    ...(r.attestedAt ? { attestedAt: r.attestedAt } : {}),
    ...(r.outcome === 'failed' && r.inProduction ? { inProduction: true } : {}),
    policy: p.policy,
    assessedAt: p.assessedAt,
    rules: [...rules.entries()].map(([id, v]) => ({ id, ...v })),
    findings: p.findings,
    platforms: p.platforms.map((x) => ({ platform: x.platform, digest: x.digest, decision: x.decision.verdict })),
    ...(r.promotion
      ? {
          copied: r.promotion.copied,
          signature: r.promotion.signature.tag,
          attestations: r.promotion.attestations,
        }
      : {}),
    ...(stepSeconds ? { stepSeconds } : {}),
  };
}

/**
 * Check, before any registry is contacted, that the record can be written where it is asked for: a record that
 * fails after the tag moved would report an error for a promotion that happened.
 */
export async function checkRecordWritable(path: string): Promise<void> {
  const probe = `${path}.tmp-${randomBytes(6).toString('hex')}`;
  try {
    await writeFile(probe, '', { flag: 'wx' });
    await unlink(probe);
  } catch (err) {
    fail('OUTPUT_FAILED', `${path}: cannot write the gate record (${(err as Error).message})`);
  }
}

/** Write the record: a temporary file renamed over the target, so a reader never sees half of one. */
export async function writeRecord(path: string, record: unknown): Promise<void> {
  const tmp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
  try {
    await writeFile(tmp, `${JSON.stringify(record, null, 2)}\n`);
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    fail('OUTPUT_FAILED', `${path}: cannot write the gate record (${(err as Error).message})`);
  }
}
