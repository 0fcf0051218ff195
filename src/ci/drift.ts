/**
 * `ci drift`: what changed between two summaries of the same repository's pipelines, by meaning. Each change is one
 * hit of a `drift-*` rule with a severity: the gate removed or weakened, a new push to production, a trigger widened to
 * events outsiders cause, a new secret, a wider token, a self-hosted runner, new third-party code, an unpinned ref,
 * other changes (low), and files whose text changed but whose meaning did not (info). Pure.
 */
import type { Finding, Severity } from '../findings/finding.js';
import type { CiAuditConfig } from './config.js';
import { OUTSIDER_EVENTS, PRIVILEGED_EVENTS } from './github/reach.js';
import { matches } from './imagepath.js';
import { type Confidence, firstParty, usesRepo } from './rule.js';
import type { CiSummary, JobSummary, PermissionSummary, StepSummary, WorkflowSummary } from './summary.js';

export interface DriftRule {
  readonly id: string;
  readonly title: string;
  readonly severity: Severity;
  readonly rationale: string;
  readonly remediation: string;
}

const rule = (id: string, severity: Severity, title: string, rationale: string, remediation: string): DriftRule => ({
  id,
  severity,
  title,
  rationale,
  remediation,
});

/** Every drift rule, in report and docs order. */
export const DRIFT_RULES: readonly DriftRule[] = [
  rule(
    'drift-assessment-removed',
    'critical',
    'Assessment step removed',
    'A job that ran the assessment gate no longer does: what it builds or pushes is no longer checked.',
    'Restore the assessment step (or the job that ran it), or record a new baseline after review if the gate moved.',
  ),
  rule(
    'drift-assessment-weakened',
    'critical',
    'Assessment step can no longer fail the job',
    'The gate still runs but its failure is swallowed (continue-on-error, `|| true`, a status never checked).',
    'Let the assessment fail the job again.',
  ),
  rule(
    'drift-production-push',
    'critical',
    'New push to a production registry',
    'A job that did not push to production does now: it holds the production credential.',
    'Push to staging from CI and promote with `portcullis gate`.',
  ),
  rule(
    'drift-trigger-widened',
    'high',
    'Workflow now runs for untrusted events',
    'A new trigger lets outsiders (forks, issues, comments) start the workflow, some with secrets and a write token.',
    'Remove the trigger, or guard the jobs it reaches; review before recording a new baseline.',
  ),
  rule(
    'drift-secret-added',
    'high',
    'New secret exposed to a job',
    'A job reads a secret it did not read before: whatever runs in the job can take it.',
    'Check that the job needs it and that nothing untrusted runs there.',
  ),
  rule(
    'drift-permissions-widened',
    'high',
    'Token permissions widened',
    "A job's token gained write (high) or read (medium) scopes, or lost its `permissions:` and gets the repository default (medium).",
    'Grant the least the job needs, at the job level.',
  ),
  rule(
    'drift-self-hosted',
    'medium',
    'Job moved to a self-hosted runner',
    'Self-hosted runners keep state between jobs and sit inside the network: code run there can persist and reach further.',
    'Keep jobs that outsiders can trigger on ephemeral hosted runners.',
  ),
  rule(
    'drift-new-code',
    'medium',
    'Job runs new third-party code',
    'A new action, reusable workflow or container image (or a new ref of one) runs with what the job holds.',
    'Review the new code and pin it by commit or digest.',
  ),
  rule(
    'drift-unpinned',
    'medium',
    'Unpinned action or image introduced',
    'A ref by tag or branch can be moved by whoever controls it, to run different code with the same workflow.',
    'Pin actions by full commit SHA and images by digest.',
  ),
  rule(
    'drift-changed',
    'low',
    'Pipeline changed',
    'A change in meaning not covered above: a script, inputs, conditions, needs, environment, a job or file added or removed.',
    'Review it; record a new baseline when it is intended.',
  ),
  rule(
    'drift-cosmetic',
    'info',
    'Cosmetic change only',
    'The file changed (whitespace, comments, names, order) but nothing it does did.',
    'Nothing to do; record a new baseline to quiet it.',
  ),
];

const RULES = new Map(DRIFT_RULES.map((r) => [r.id, r]));

export interface DriftHit {
  readonly ruleId: string;
  readonly severity: Severity;
  readonly confidence: Confidence;
  readonly file: string;
  readonly line: number;
  readonly message: string;
}

export interface DriftResult {
  readonly hits: readonly DriftHit[];
  /** What could not be checked (no production registries configured). */
  readonly notes: readonly string[];
}

type Emit = (
  id: string,
  file: string,
  line: number,
  message: string,
  severity?: Severity,
  confidence?: Confidence,
) => void;

/** GitLab pipeline sources a contributor without rights can cause (a merge request, from a fork too). */
const GITLAB_OUTSIDER: ReadonlySet<string> = new Set(['merge_request_event', 'external_pull_request_event']);

const RANK: Record<string, number> = { none: 0, read: 1, write: 2 };

/** A scope's level under a permission summary; `default` is unknown and handled by the caller. */
function level(p: PermissionSummary, scope: string): number {
  if (p === 'write-all') return 2;
  if (p === 'read-all') return 1;
  if (p === 'default') return 0;
  return RANK[p[scope] ?? 'none'] ?? 0;
}

const scopesOf = (p: PermissionSummary): string[] => (typeof p === 'object' ? Object.keys(p) : []);

function permissionWidening(base: PermissionSummary, cur: PermissionSummary): { severity: Severity; what: string }[] {
  if (cur === 'default')
    return base === 'default'
      ? []
      : [{ severity: 'medium', what: "the repository's default token (no `permissions:`; often write-all)" }];
  if (base === 'default') return [];
  if (cur === 'write-all') return base === 'write-all' ? [] : [{ severity: 'high', what: 'write-all' }];
  if (cur === 'read-all')
    return base === 'read-all' || base === 'write-all' ? [] : [{ severity: 'medium', what: 'read-all' }];
  const out: { severity: Severity; what: string }[] = [];
  for (const s of scopesOf(cur)) {
    const now = level(cur, s);
    const was = level(base, s);
    if (now > was) out.push({ severity: now === 2 ? 'high' : 'medium', what: `${s}: ${cur[s as never]}` });
  }
  return out;
}

const isPinnedUses = (u: string): boolean => /@[0-9a-f]{40}$/i.test(u);
const isPinnedImage = (i: string): boolean => /@sha256:[0-9a-f]{64}$/i.test(i.replace(/^docker:\/\//, ''));

/** Code a job runs that it did not write: actions, a reusable workflow, container images. */
function codeRefs(j: JobSummary): string[] {
  const refs = [...j.steps.flatMap((s) => (s.uses ? [s.uses] : [])), ...(j.uses ? [j.uses] : [])];
  return [...new Set([...refs, ...j.images.map((i) => `image:${i}`)])];
}

function describeRef(ref: string): { thirdParty: boolean; pinned: boolean; local: boolean } {
  if (ref.startsWith('image:')) return { thirdParty: true, pinned: isPinnedImage(ref.slice(6)), local: false };
  if (ref.startsWith('docker://')) return { thirdParty: true, pinned: isPinnedImage(ref), local: false };
  if (ref.startsWith('./')) return { thirdParty: false, pinned: true, local: true };
  return { thirdParty: usesRepo(ref) !== undefined && !firstParty(ref), pinned: isPinnedUses(ref), local: false };
}

const refName = (ref: string): string => ref.replace(/^image:/, '').replace(/@[^@]*$/, '');

/** A job's meaning without names, lines and step order details that do not change what runs. */
function semantic(j: JobSummary): unknown {
  return {
    ...j,
    name: undefined,
    line: undefined,
    pushes: j.pushes.map((p) => ({ ...p, line: undefined })),
    assessments: j.assessments.map((a) => ({ ...a, line: undefined, step: undefined })),
    steps: j.steps.map((s) => ({ ...s, name: undefined, line: undefined })),
  };
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

const EMPTY_JOB = (id: string, line: number): JobSummary => ({
  id,
  line,
  triggers: [],
  permissions: {},
  runsOn: [],
  selfHosted: false,
  secrets: [],
  continueOnError: false,
  needs: [],
  images: [],
  pushes: [],
  assessments: [],
  steps: [],
});

/** How a changed field of a job summary is named in messages. */
const FIELD_WORDS: Readonly<Record<string, string>> = {
  triggers: 'the events it runs for',
  permissions: 'permissions',
  runsOn: 'runs-on',
  secrets: 'secrets read (fewer)',
  environment: 'environment',
  if: 'its if: condition',
  continueOnError: 'continue-on-error',
  env: 'env: values',
  needs: 'needs',
  uses: 'the reusable workflow it calls',
  images: 'container images',
  pushes: 'pushes (none new to production)',
  assessments: 'assessments',
};

/** What else changed in a job, leaving out what a specific rule already reported (`covered` keys, steps and refs). */
function differingFields(
  a: JobSummary,
  b: JobSummary,
  covered: { keys: Set<string>; steps: Set<number>; refs: Set<string> },
): string[] {
  const sa = semantic(a) as Record<string, unknown>;
  const sb = semantic(b) as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(sa), ...Object.keys(sb)])]
    .filter((k) => k !== 'steps' && k !== 'selfHosted' && !covered.keys.has(k) && !same(sa[k], sb[k]))
    .map((k) => FIELD_WORDS[k] ?? k);
  if (!same(sa.steps, sb.steps)) {
    const key = (s: StepSummary) => JSON.stringify({ ...s, index: undefined, name: undefined, line: undefined });
    const was = new Set(a.steps.map(key));
    const now = new Set(b.steps.map(key));
    const added = b.steps.filter((s) => !was.has(key(s)));
    const removed = a.steps.filter((s) => !now.has(key(s)));
    const shown = added.filter(
      (s) => !covered.steps.has(s.index) && !(s.uses && !s.run && !s.inputs && covered.refs.has(s.uses)),
    );
    if (shown.length)
      keys.push(`step${shown.length > 1 ? 's' : ''} ${shown.map((s) => s.index + 1).join(', ')} new or changed`);
    if (removed.length > added.length) keys.push(`${removed.length - added.length} step(s) removed`);
    if (!added.length && !removed.length) keys.push('steps reordered');
  }
  return keys;
}

/**
 * Whether job `id`'s own assessment of kind `how` stopped blocking (or went), so that its compareJob says so and the
 * jobs it gated need not.
 */
type SaidAt = (id: string, how: string) => boolean;

function compareJob(
  w: WorkflowSummary,
  base: JobSummary | undefined,
  cur: JobSummary,
  config: CiAuditConfig,
  emit: Emit,
  saidAt: SaidAt = () => false,
): void {
  const b = base ?? EMPTY_JOB(cur.id, cur.line);
  const f = w.file;
  const what = base ? `job ${cur.id}` : `new job ${cur.id}`;
  const covered = {
    keys: new Set<string>(w.platform === 'gitlab' ? [] : ['triggers']),
    steps: new Set<number>(),
    refs: new Set<string>(),
  };
  const job = (key: string, step?: number): void => {
    covered.keys.add(key);
    if (step !== undefined) covered.steps.add(step);
  };
  // The gate: every blocking assessment of the baseline must still run and block (of the same kind, anywhere).
  const upstreamSeen = new Set<string>();
  for (const a of b.assessments.filter((x) => x.blocking)) {
    if (cur.assessments.some((x) => x.blocking && x.how === a.how)) continue;
    const weak =
      cur.assessments.find((x) => x.how === a.how && x.job === a.job) ??
      cur.assessments.find((x) => x.how === a.how) ??
      cur.assessments[0];
    job('assessments', weak?.job === undefined ? weak?.step : undefined);
    if (a.job !== undefined) {
      // GitLab: a gate in another job. Said once, and not again when that job's own change is said there.
      const key = `${a.job}\0${a.how}`;
      if (upstreamSeen.has(key) || saidAt(a.job, a.how)) continue;
      upstreamSeen.add(key);
    }
    if (weak && !weak.blocking)
      emit(
        'drift-assessment-weakened',
        f,
        weak.line,
        weak.job === undefined
          ? `${what}: the assessment (${weak.how}) can no longer fail the job: ${weak.why ?? 'its failure is ignored'}`
          : `${what}: the assessment (${weak.how} in job ${weak.job}) can no longer stop its pushes: ${weak.why ?? 'its failure is ignored'}`,
        undefined,
        weak.confidence,
      );
    else if (!weak)
      emit(
        'drift-assessment-removed',
        f,
        cur.line,
        a.job === undefined
          ? `${what}: the assessment (${a.how}) that ran at step ${a.step + 1} is gone`
          : `${what}: the assessment (${a.how}) in job ${a.job} no longer runs before its pushes`,
      );
  }
  if (config.production) {
    const before = new Set(b.pushes.map((p) => p.dest));
    for (const p of cur.pushes) {
      if (before.has(p.dest) || !matches(p.dest, config.production)) continue;
      job('pushes');
      emit(
        'drift-production-push',
        f,
        p.line,
        `${what}: ${p.tool} to ${p.dest}, a production registry${p.byGate ? ' (by portcullis gate)' : ''}`,
        p.byGate ? 'medium' : undefined,
      );
    }
  }
  const newSecrets = cur.secrets.filter((s) => !b.secrets.includes(s));
  if (newSecrets.length) job('secrets');
  if (newSecrets.length)
    emit('drift-secret-added', f, cur.line, `${what}: now reads ${newSecrets.map((s) => `secrets.${s}`).join(', ')}`);
  const newEvents = cur.triggers.filter((t) => !b.triggers.includes(t));
  // GitHub's triggers are the workflow's (compared once per file); GitLab's are each job's pipeline sources.
  if (w.platform === 'gitlab' && newEvents.some((e) => GITLAB_OUTSIDER.has(e))) job('triggers');
  if (w.platform === 'gitlab' && newEvents.some((e) => GITLAB_OUTSIDER.has(e)))
    emit(
      'drift-trigger-widened',
      f,
      cur.line,
      `${what}: now runs for ${newEvents.filter((e) => GITLAB_OUTSIDER.has(e)).join(', ')}`,
      cur.secrets.length ? 'high' : 'medium',
    );
  // A new job is held to what it may write, not to every read it is granted.
  for (const p of permissionWidening(b.permissions, cur.permissions).filter(
    (x) => base || x.severity === 'high' || cur.permissions === 'default',
  )) {
    job('permissions');
    emit(
      'drift-permissions-widened',
      f,
      cur.line,
      `${what}: token ${base ? 'widened to' : 'holds'} ${p.what}`,
      p.severity,
    );
  }
  if (cur.selfHosted && !b.selfHosted) {
    job('runsOn');
    job('selfHosted');
    emit('drift-self-hosted', f, cur.line, `${what}: now runs on ${cur.runsOn.join(', ')}`);
  }
  const was = codeRefs(b);
  for (const ref of codeRefs(cur)) {
    if (was.includes(ref)) continue;
    covered.refs.add(ref);
    job(ref.startsWith('image:') ? 'images' : 'uses');
    const d = describeRef(ref);
    const prev = was.find((x) => refName(x) === refName(ref));
    const label = ref.replace(/^image:/, 'image ');
    const at = cur.steps.find((s) => s.uses === ref)?.line ?? cur.line;
    if (!d.local)
      emit(
        'drift-new-code',
        f,
        at,
        prev
          ? `${what}: ${refName(ref)} changed from ${prev.replace(/^image:/, '')} to ${ref.replace(/^image:/, '')}`
          : `${what}: runs ${d.thirdParty ? 'third-party ' : ''}${label}`,
        d.thirdParty ? 'medium' : 'low',
      );
    if (!d.pinned && !d.local)
      emit(
        'drift-unpinned',
        f,
        at,
        `${what}: ${label} is not pinned by ${ref.includes('@') || !ref.startsWith('image:') ? 'commit SHA or digest' : 'digest'}`,
      );
  }
  const other = base ? differingFields(b, cur, covered) : ['added'];
  if (other.length) emit('drift-changed', f, cur.line, `${what}: ${other.join('; ')}`);
}

function compareWorkflow(
  base: WorkflowSummary | undefined,
  cur: WorkflowSummary,
  config: CiAuditConfig,
  emit: Emit,
): void {
  const f = cur.file;
  const before = new Map((base?.triggers ?? []).map((t) => [t.event, t]));
  for (const t of cur.triggers) {
    const old = before.get(t.event);
    if (!old) {
      const outsider = OUTSIDER_EVENTS.has(t.event);
      if (outsider)
        emit(
          'drift-trigger-widened',
          f,
          t.line,
          `${base ? '' : 'new workflow: '}now runs for ${t.event}${PRIVILEGED_EVENTS.has(t.event) ? ', with the base repository’s secrets and token, on input outsiders choose' : ', which outsiders can cause'}`,
          PRIVILEGED_EVENTS.has(t.event) ? 'high' : 'medium',
        );
      else emit('drift-changed', f, t.line, `${base ? '' : 'new workflow: '}now runs for ${t.event}`);
    } else if (old.filter !== t.filter) {
      const outsider = OUTSIDER_EVENTS.has(t.event);
      emit(
        outsider ? 'drift-trigger-widened' : 'drift-changed',
        f,
        t.line,
        `the filters of ${t.event} changed from ${old.filter || '(none)'} to ${t.filter || '(none)'}`,
        outsider ? 'medium' : undefined,
        outsider ? 'medium' : undefined,
      );
    }
  }
  for (const t of base?.triggers ?? [])
    if (!cur.triggers.some((x) => x.event === t.event)) emit('drift-changed', f, 1, `no longer runs for ${t.event}`);
  const jobs = new Map((base?.jobs ?? []).map((j) => [j.id, j]));
  const now = new Map(cur.jobs.map((j) => [j.id, j]));
  const blocks = (j: JobSummary | undefined, how: string, own: boolean): boolean =>
    j?.assessments.some((a) => (!own || a.job === undefined) && a.blocking && a.how === how) ?? false;
  // As compareJob decides for that job (or, when it is gone, compareWorkflow below).
  const saidAt: SaidAt = (id, how) => blocks(jobs.get(id), how, true) && !blocks(now.get(id), how, false);
  for (const j of cur.jobs) compareJob(cur, jobs.get(j.id), j, config, emit, saidAt);
  const pushes = cur.jobs.some((j) => j.pushes.some((p) => p.dest !== 'local'));
  for (const j of base?.jobs ?? []) {
    if (cur.jobs.some((x) => x.id === j.id)) continue;
    // Its own assessment (a gate in another job it waited for is that job's).
    const gate = j.assessments.find((a) => a.blocking && a.job === undefined);
    if (gate && pushes)
      emit(
        'drift-assessment-removed',
        f,
        1,
        `job ${j.id}, which ran the assessment (${gate.how}), was removed while the workflow still pushes images`,
      );
    else emit('drift-changed', f, 1, `job ${j.id} removed`);
  }
}

/** Compare the current summary with the baseline's. */
export function compareSummaries(base: CiSummary, cur: CiSummary, config: CiAuditConfig): DriftResult {
  const hits: DriftHit[] = [];
  const emit: Emit = (id, file, line, message, severity, confidence) => {
    const r = RULES.get(id) as DriftRule;
    hits.push({ ruleId: id, severity: severity ?? r.severity, confidence: confidence ?? 'high', file, line, message });
  };
  const baseWf = new Map(base.workflows.map((w) => [w.file, w]));
  for (const w of cur.workflows) compareWorkflow(baseWf.get(w.file), w, config, emit);
  for (const w of base.workflows) {
    if (cur.workflows.some((x) => x.file === w.file)) continue;
    const gate = w.jobs.some((j) => j.assessments.some((a) => a.blocking && a.job === undefined));
    emit(
      'drift-changed',
      w.file,
      1,
      `workflow removed${gate ? ' (it ran the assessment gate)' : ''}`,
      gate ? 'medium' : undefined,
    );
  }
  // Files whose bytes changed with no change in meaning.
  const baseHash = new Map(base.files.map((h) => [h.file, h.sha256]));
  const touched = new Set(hits.map((h) => h.file));
  for (const h of cur.files) {
    const was = baseHash.get(h.file);
    if (was === undefined || was === h.sha256 || touched.has(h.file)) continue;
    emit('drift-cosmetic', h.file, 1, 'the file changed, but not what it runs (whitespace, comments, names or order)');
  }
  for (const h of base.files)
    if (
      !cur.files.some((x) => x.file === h.file) &&
      !touched.has(h.file) &&
      !base.workflows.some((w) => w.file === h.file)
    )
      emit('drift-changed', h.file, 1, 'an included file is no longer read');
  const notes = config.production
    ? []
    : ['drift-production-push: not checked: no productionRegistries in the CI audit configuration'];
  const rank = (id: string) => DRIFT_RULES.findIndex((r) => r.id === id);
  hits.sort(
    (a, b) =>
      (a.file < b.file ? -1 : a.file > b.file ? 1 : 0) ||
      a.line - b.line ||
      rank(a.ruleId) - rank(b.ruleId) ||
      (a.message < b.message ? -1 : a.message > b.message ? 1 : 0),
  );
  return { hits, notes };
}

/** Drift hits in the shared Finding shape. */
export function driftFindings(hits: readonly DriftHit[]): Finding[] {
  return hits.map((h) => {
    const r = RULES.get(h.ruleId) as DriftRule;
    return {
      ruleId: h.ruleId,
      kind: 'ci',
      severity: h.severity,
      confidence: h.confidence,
      title: r.title,
      message: h.message,
      location: { kind: 'file', path: h.file, line: h.line },
      fix: { text: r.remediation },
    };
  });
}

export function driftRuleById(id: string): DriftRule | undefined {
  return RULES.get(id);
}
