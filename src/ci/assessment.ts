/**
 * The assessment step (the gate) in a job, and whether it can still fail the job. Recognised: `portcullis gate`,
 * `portcullis scan` with --policy or a non-zero --exit-code, and the configured commands and actions. What takes a
 * failure away: continue-on-error, `|| true` (or any fallback that does not fail), a pipe without pipefail, errexit
 * off (`set +e`, or a shell without -e) with later commands setting the step's status, and an exit status captured
 * (`|| status=$?`) that nothing later fails on. A captured status is followed through later tests and `exit`s in the
 * script, and through `$GITHUB_OUTPUT` into later steps that read it; what cannot be read is `medium`, never a pass.
 */
import type { CiAuditConfig } from './config.js';
import type { Job, Pos, Step } from './model.js';
import { type Confidence, usesRepo } from './rule.js';
import { type Command, commandPos, commands } from './shell.js';

export interface Weakness {
  readonly why: string;
  readonly confidence: Confidence;
  /** For `scan && …` on a line that is not the last: that line's offset (a push later on it is gated). */
  readonly chain?: number;
}

export interface Assessment {
  readonly job: Job;
  readonly step: Step;
  /** The command's line offset in the script; -1 for an action. */
  readonly offset: number;
  readonly pos: Pos;
  readonly how: string;
  /** Why it can no longer fail the job; undefined when it can. */
  readonly weak?: Weakness;
}

/** Whether a command line assesses, and whether it can fail on what it finds. */
function assesses(c: Command, config: CiAuditConfig): { how: string; weak?: Weakness } | undefined {
  let w = c.words;
  if (/^(npx|pnpx|bunx)$/.test(w[0] ?? '')) w = w.slice(1).filter((x, i) => i > 0 || !x.startsWith('-'));
  const base = (w[0] ?? '').replace(/^.*\//, '').replace(/\.m?js$/, '');
  if (base === 'portcullis' && w[1] === 'gate') return { how: 'portcullis gate' };
  if (base === 'portcullis' && w[1] === 'scan') {
    const policy = w.some((x) => x === '--policy' || x.startsWith('--policy='));
    const code = w.flatMap((x, i) =>
      x === '--exit-code' ? [w[i + 1] ?? ''] : x.startsWith('--exit-code=') ? [x.slice(12)] : [],
    );
    if (policy || code.some((x) => x !== '0')) return { how: 'portcullis scan' };
    return {
      how: 'portcullis scan',
      weak: {
        why: 'portcullis scan without --policy or a non-zero --exit-code exits 0 whatever it finds',
        confidence: 'high',
      },
    };
  }
  for (const pattern of config.commands) if (wordMatch(pattern, c.words)) return { how: pattern.join(' ') };
  return undefined;
}

function globWord(p: string, w: string): boolean {
  if (!p.includes('*')) return p === w;
  const parts = p.split('*');
  let at = 0;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as string;
    if (i === 0) {
      if (!w.startsWith(part)) return false;
      at = part.length;
    } else if (i === parts.length - 1) return w.length - part.length >= at && w.endsWith(part);
    else {
      const found = w.indexOf(part, at);
      if (found === -1) return false;
      at = found + part.length;
    }
  }
  return true;
}

/** Word pattern: segments between lone `*` match consecutive words, in order; the first one at the command's start. */
export function wordMatch(pattern: readonly string[], words: readonly string[]): boolean {
  const segments: string[][] = [[]];
  for (const p of pattern) {
    if (p === '*') segments.push([]);
    else (segments.at(-1) as string[]).push(p);
  }
  const base = (words[0] ?? '').replace(/^.*\//, '');
  const ws = [base, ...words.slice(1)];
  let at = 0;
  for (let s = 0; s < segments.length; s++) {
    const seg = segments[s] as string[];
    if (seg.length === 0) continue;
    const fits = (i: number) => seg.every((p, k) => i + k < ws.length && globWord(p, ws[i + k] as string));
    if (s === 0) {
      if (!fits(0)) return false;
      at = seg.length;
      continue;
    }
    let i = at;
    while (i <= ws.length - seg.length && !fits(i)) i++;
    if (i > ws.length - seg.length) return false;
    at = i + seg.length;
  }
  return true;
}

/** Shell state a script starts with: GitHub runs `bash -e {0}` by default and `bash -eo pipefail {0}` for bash. */
function startState(shell: string | undefined): { errexit: boolean; pipefail: boolean; known: boolean } {
  if (shell === undefined) return { errexit: true, pipefail: false, known: true };
  if (shell === 'bash') return { errexit: true, pipefail: true, known: true };
  if (shell === 'sh') return { errexit: true, pipefail: false, known: true };
  if (/^(pwsh|powershell|cmd)$/.test(shell)) return { errexit: false, pipefail: false, known: true };
  if (shell.includes('{0}'))
    return { errexit: /\s-[a-z]*e|errexit/.test(shell), pipefail: /pipefail/.test(shell), known: true };
  return { errexit: true, pipefail: false, known: false };
}

const isFailingExit = (c: Command): boolean =>
  (c.words[0] === 'exit' || c.words[0] === 'return') && c.words[1] !== undefined && c.words[1] !== '0'
    ? true
    : c.words[0] === 'false' && c.words.length === 1;

const NO_OP = /^(true|:|echo|printf|exit|return)$/;

/** The commands of the `if` block whose condition is at `k`: `then` part and `else` part. */
function ifBlock(cs: readonly Command[], k: number): { yes: Command[]; no: Command[] } {
  const out = { yes: [] as Command[], no: [] as Command[] };
  let depth = 0;
  let part: 'yes' | 'no' = 'yes';
  for (let i = k + 1; i < cs.length && i < k + 400; i++) {
    const c = cs[i] as Command;
    if (/^if\b/.test(c.text)) depth++;
    if (/^fi\b/.test(c.text)) {
      if (depth === 0) break;
      depth--;
    }
    if (depth === 0 && /^(else|elif)\b/.test(c.text)) part = 'no';
    out[part].push(c);
  }
  return out;
}

/** `[ "$V" -le 1 ]` evaluated with V = 1 (the status of a failing assessment); undefined when it cannot be. */
function testWith(c: Command, v: string, value: number): boolean | undefined {
  const ws = c.words.filter((x) => x !== '[' && x !== ']' && x !== '[[' && x !== ']]' && x !== 'test');
  if (ws.length !== 3) return undefined;
  const ref = new RegExp(`^\\$\\{?${esc(v)}\\}?$`);
  let [a, op, b] = ws as [string, string, string];
  const flip: Record<string, string> = { '-lt': '-gt', '-gt': '-lt', '-le': '-ge', '-ge': '-le' };
  if (ref.test(b)) [a, b, op] = [b, a, flip[op] ?? op];
  if (!ref.test(a) || !/^-?\d+$/.test(b)) return undefined;
  const n = Number(b);
  switch (op) {
    case '-eq':
    case '=':
    case '==':
      return value === n;
    case '-ne':
    case '!=':
      return value !== n;
    case '-lt':
      return value < n;
    case '-le':
      return value <= n;
    case '-gt':
      return value > n;
    case '-ge':
      return value >= n;
    default:
      return undefined;
  }
}

/** Text for a regular expression, literally (names come from the workflow). */
const esc = (t: string): string => t.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');

type Check = 'fails' | 'unknown' | 'none';

/** Assessment commands analysed in one script. */
const MAX_ANALYSED = 100;

/** Commands followed after a status is kept. */
const MAX_FOLLOW = 2000;

/**
 * Whether the script `cs` from index `from` fails the step when variable `v` holds a failing status (1), and the
 * outputs it writes `v` to (for later steps).
 */
function checksVar(
  cs: readonly Command[],
  from: number,
  v: string,
  errexit: boolean,
): { check: Check; outputs: string[] } {
  const ref = new RegExp(`\\$\\{?${esc(v)}(?![\\w])`);
  let check: Check = 'none';
  const outputs: string[] = [];
  for (let i = from; i < cs.length; i++) {
    // A kept status is checked near where it is kept; past this window the answer is "cannot tell", never a pass.
    if (i - from > MAX_FOLLOW) return { check: check === 'none' ? 'unknown' : check, outputs };
    const c = cs[i] as Command;
    if (!ref.test(c.text)) continue;
    // Printing the status checks nothing (writing it to $GITHUB_OUTPUT is followed below).
    if (/^(echo|printf)$/.test(c.words[0] ?? '') && !/GITHUB_OUTPUT/.test(c.text)) continue;
    if ((c.words[0] === 'exit' || c.words[0] === 'return') && ref.test(c.words[1] ?? ''))
      return { check: 'fails', outputs };
    const out = new RegExp(`([A-Za-z_][\\w-]*)=\\$\\{?${esc(v)}\\}?[^\\n]*>>\\s*"?\\$\\{?GITHUB_OUTPUT`).exec(c.text);
    if (out) {
      outputs.push(out[1] as string);
      continue;
    }
    const t = /^(\[\[?|test)$/.test(c.words[0] ?? '') ? testWith(c, v, 1) : undefined;
    if (t === undefined) {
      check = 'unknown';
      continue;
    }
    const holds = c.negated ? !t : t;
    if (c.condition) {
      const block = ifBlock(cs, i);
      if ((holds ? block.yes : block.no).some(isFailingExit)) return { check: 'fails', outputs };
    } else if (c.after === '||') {
      if (!holds && cs[i + 1] && isFailingExit(cs[i + 1] as Command)) return { check: 'fails', outputs };
    } else if (c.after !== '&&' && !holds && errexit) return { check: 'fails', outputs };
  }
  return { check, outputs };
}

/** Later steps of the job that read `steps.<id>.outputs.<name>` and fail on it. */
function laterStepsCheck(job: Job, step: Step, outputs: readonly string[]): Check {
  if (!step.id || outputs.length === 0) return 'none';
  let result: Check = 'none';
  for (const s of job.steps.slice(step.index + 1)) {
    for (const name of outputs) {
      const expr = new RegExp(`steps\\.${esc(step.id)}\\.outputs\\.${esc(name)}(?![\\w-])`);
      if (s.if && expr.test(s.if.value) && s.run && commands(s.run.value).some(isFailingExit)) return 'fails';
      if (!s.run) continue;
      for (const [env, val] of Object.entries(s.env)) {
        if (!expr.test(val.value)) continue;
        const st = startState(s.shell ?? job.defaultShell);
        const r = checksVar(commands(s.run.value), 0, env, st.errexit);
        if (r.check === 'fails') return 'fails';
        if (r.check === 'unknown') result = 'unknown';
      }
      if (expr.test(s.run.value)) result = 'unknown';
    }
  }
  return result;
}

interface ShellState {
  readonly errexit: boolean;
  readonly pipefail: boolean;
  readonly setOff: boolean;
  readonly known: boolean;
  /** The index of the script's last command that has words (-1 when none). */
  readonly last: number;
}

/** The errexit and pipefail state before each command (one pass; `set` changes them). */
function shellStates(job: Job, step: Step, cs: readonly Command[]): ShellState[] {
  const st = startState(step.shell ?? job.defaultShell);
  let { errexit, pipefail } = st;
  let setOff = false;
  const out: ShellState[] = [];
  let last = cs.length - 1;
  while (last >= 0 && (cs[last] as Command).words.length === 0) last--;
  for (const c of cs) {
    out.push({ errexit, pipefail, setOff, known: st.known, last });
    if (c.words[0] !== 'set') continue;
    for (let i = 1; i < c.words.length; i++) {
      const f = c.words[i] as string;
      if (f === '-o' || f === '+o') {
        const opt = c.words[++i];
        if (opt === 'pipefail') pipefail = f === '-o';
        if (opt === 'errexit') errexit = f === '-o';
      } else if (/^-[a-z]*e/.test(f)) errexit = true;
      else if (/^\+[a-z]*e/.test(f)) {
        errexit = false;
        setOff = true;
      }
      if (/^-[a-z]*o$/.test(f) && c.words[i + 1] === 'pipefail') {
        pipefail = true;
        i++;
      }
    }
  }
  return out;
}

/** Why the assessment command at index k of a script cannot fail the step, or undefined when it can. */
function scriptWeakness(
  job: Job,
  step: Step,
  cs: readonly Command[],
  k: number,
  state: ShellState,
): Weakness | undefined {
  const { errexit, pipefail, setOff } = state;
  const st = state;
  const c = cs[k] as Command;
  if (c.condition) {
    const block = ifBlock(cs, k);
    if ((c.negated ? block.yes : block.no).some(isFailingExit)) return undefined;
    return { why: 'its status is tested by an if whose branches were not seen to fail the step', confidence: 'medium' };
  }
  let e = k;
  while ((cs[e] as Command).after === '|' && e + 1 < cs.length) e++;
  if (e > k && !pipefail)
    return {
      why: `it is piped into ${(cs[e] as Command).words[0] ?? 'another command'} without pipefail, so the pipe's status is that command's`,
      confidence: st.known ? 'high' : 'medium',
    };
  const end = cs[e] as Command;
  const next = cs[e + 1];
  const captured = (n: Command | undefined): string | undefined =>
    n && n.words.length === 0 ? Object.entries(n.assigns).find(([, val]) => val === '$?')?.[0] : undefined;
  let v: string | undefined;
  if (end.after === '||' && next) {
    v = captured(next);
    if (!v) {
      if (isFailingExit(next)) return undefined;
      if (/^[{(]/.test(next.text)) {
        for (let i = e + 1; i < cs.length && i < e + 50; i++) {
          const g = cs[i] as Command;
          if (isFailingExit(g)) return undefined;
          if (/[})]\s*$/.test(g.text)) break;
        }
      }
      const sure = NO_OP.test(next.words[0] ?? '') && !isFailingExit(next);
      return {
        why: `\`|| ${next.text.slice(0, 40)}\` turns its failure into success`,
        confidence: sure ? 'high' : 'medium',
      };
    }
  } else if (end.after === '&&') {
    // `scan && push` gates the push on the same line; elsewhere a failing command in an && list does not stop `set -e`.
    if (state.last > e)
      return {
        why: 'it is followed by && on a line that is not the last: a failing command in an && list does not stop the script',
        confidence: 'medium',
        chain: end.offset,
      };
    return undefined;
  } else if (end.after === '&') {
    return { why: 'it runs in the background (&): the step does not wait for its status', confidence: 'medium' };
  } else {
    v = captured(next);
    if (!v && next && /\$\?/.test(next.text))
      return { why: 'its $? is read by a later command that was not understood', confidence: 'medium' };
    if (!v) {
      if (errexit || state.last <= e) return undefined;
      return {
        why: `${setOff ? 'set +e is in effect' : `the shell (${step.shell ?? job.defaultShell}) does not stop on errors`}, so a later command (${(cs[state.last] as Command).text.slice(0, 30)}) sets the step's status`,
        confidence: 'high',
      };
    }
  }
  // The status is kept in v: something later must fail on it.
  const inScript = checksVar(cs, e + 2, v, errexit);
  if (inScript.check === 'fails') return undefined;
  const later = laterStepsCheck(job, step, inScript.outputs);
  if (later === 'fails') return undefined;
  if (inScript.check === 'unknown' || later === 'unknown')
    return {
      why: `its status is kept in $${v}, and whether a later check fails on it cannot be told`,
      confidence: 'medium',
    };
  return { why: `its status is kept in $${v} and nothing later fails the job on it`, confidence: 'high' };
}

function actionAssesses(s: Step, config: CiAuditConfig): boolean {
  const path = (s.uses?.value ?? '').replace(/@.*/, '').toLowerCase();
  if (!usesRepo(path)) return false;
  return config.actions.some(
    (a) => a.uses === path && Object.entries(a.with).every(([k, v]) => s.with[k]?.value.trim() === v),
  );
}

const memo = new WeakMap<Job, WeakMap<CiAuditConfig, Assessment[]>>();

/**
 * The assessments in a job, in order (computed once per job and configuration). `pushAt` (step index and line offset
 * in the script) keeps those before a push, and lets `scan && push` on one line count.
 */
export function jobAssessments(
  job: Job,
  config: CiAuditConfig,
  pushAt?: { step: number; offset: number },
): Assessment[] {
  let byConfig = memo.get(job);
  if (!byConfig) {
    byConfig = new WeakMap();
    memo.set(job, byConfig);
  }
  let all = byConfig.get(config);
  if (!all) {
    all = findAssessments(job, config);
    byConfig.set(config, all);
  }
  if (!pushAt) return all;
  return all
    .filter(
      (a) =>
        a.step.index < pushAt.step || (a.step.index === pushAt.step && a.offset !== -1 && a.offset <= pushAt.offset),
    )
    .map((a) => {
      if (a.weak?.chain === undefined || a.step.index !== pushAt.step || a.weak.chain !== pushAt.offset) return a;
      const { weak: _, ...rest } = a;
      return rest;
    });
}

function findAssessments(job: Job, config: CiAuditConfig): Assessment[] {
  const out: Assessment[] = [];
  for (const s of job.steps) {
    const stepWeak: Weakness | undefined = s.continueOnError
      ? { why: 'the step has continue-on-error', confidence: 'high' }
      : undefined;
    if (s.uses && actionAssesses(s, config)) {
      out.push({
        job,
        step: s,
        offset: -1,
        pos: s.uses.pos,
        how: s.uses.value.replace(/@.*/, ''),
        ...(stepWeak ? { weak: stepWeak } : {}),
      });
    }
    if (!s.run) continue;
    const cs = commands(s.run.value);
    let states: ShellState[] | undefined;
    let analysed = 0;
    cs.forEach((c, k) => {
      const hit = assesses(c, config);
      if (!hit) return;
      states ??= shellStates(job, s, cs);
      // Each analysis reads ahead in the script: a script of thousands of assessments gets "cannot tell", not a pass.
      const weak =
        stepWeak ??
        hit.weak ??
        (++analysed > MAX_ANALYSED
          ? { why: `not analysed (more than ${MAX_ANALYSED} assessments in one script)`, confidence: 'medium' as const }
          : scriptWeakness(job, s, cs, k, states[k] as ShellState));
      out.push({
        job,
        step: s,
        offset: c.offset,
        pos: commandPos(s.run as NonNullable<Step['run']>, c),
        how: hit.how,
        ...(weak ? { weak } : {}),
      });
    });
  }
  return out;
}
