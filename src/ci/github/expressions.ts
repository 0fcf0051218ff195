/**
 * GitHub Actions expressions: where `${{ … }}` occurs in a string, the context paths it reads, and which of those an
 * outsider controls. A linear scan with no recursion, so deeply nested input costs no stack.
 * ref: https://docs.github.com/en/actions/reference/workflows-and-actions/expressions
 * ref: https://docs.github.com/en/actions/reference/workflows-and-actions/contexts
 */

export interface Expression {
  /** The text between `${{` and `}}`. */
  readonly inner: string;
  /** Offset of `${{` in the string. */
  readonly start: number;
}

/** Every `${{ … }}` in `text`; quotes inside are honoured (`'}}'` does not end it); an unterminated one is dropped. */
export function extractExpressions(text: string): Expression[] {
  const out: Expression[] = [];
  let i = text.indexOf('${{');
  while (i !== -1) {
    let j = i + 3;
    let quoted = false;
    let end = -1;
    for (; j < text.length; j++) {
      const c = text.charCodeAt(j);
      if (c === 39 /* ' */) quoted = !quoted;
      else if (!quoted && c === 125 /* } */ && text.charCodeAt(j + 1) === 125) {
        end = j;
        break;
      }
    }
    if (end === -1) break;
    out.push({ inner: text.slice(i + 3, end), start: i });
    i = text.indexOf('${{', end + 2);
  }
  return out;
}

const IDENT = /[A-Za-z_][A-Za-z0-9_-]*/y;

/**
 * The context paths an expression reads, lower-cased (contexts are case-insensitive), with indexes and `*` filters
 * as `*`: `github.event.commits[0].message` and `github.event.commits.*.message` both read as the latter.
 */
export function contextPaths(inner: string): string[] {
  const out: string[] = [];
  let i = 0;
  const n = inner.length;
  while (i < n) {
    const c = inner[i] as string;
    if (c === "'") {
      // A string literal: '' is an escaped quote.
      i++;
      while (i < n && !(inner[i] === "'" && inner[i + 1] !== "'")) i += inner[i] === "'" ? 2 : 1;
      i++;
      continue;
    }
    IDENT.lastIndex = i;
    const m = IDENT.exec(inner);
    if (!m || (i > 0 && /[A-Za-z0-9_.\]-]/.test(inner[i - 1] as string))) {
      i++;
      continue;
    }
    const segs = [m[0].toLowerCase()];
    i += m[0].length;
    for (;;) {
      if (inner[i] === '.' && inner[i + 1] === '*') {
        segs.push('*');
        i += 2;
        continue;
      }
      if (inner[i] === '.') {
        IDENT.lastIndex = i + 1;
        const s = IDENT.exec(inner);
        if (!s) break;
        segs.push(s[0].toLowerCase());
        i += 1 + s[0].length;
        continue;
      }
      if (inner[i] === '[') {
        const close = inner.indexOf(']', i);
        if (close === -1) break;
        const idx = inner.slice(i + 1, close).trim();
        const lit = /^'([^']*)'$/.exec(idx);
        segs.push(lit ? (lit[1] as string).toLowerCase() : '*');
        i = close + 1;
        continue;
      }
      break;
    }
    while (inner[i] === ' ') i++;
    // A function call (contains(...)) or a literal is not a context.
    if (inner[i] === '(' && segs.length === 1) continue;
    if (segs.length === 1 && ['true', 'false', 'null'].includes(segs[0] as string)) continue;
    out.push(segs.join('.'));
  }
  return out;
}

/**
 * Context fields whose content anyone who can open an issue, a pull request, a discussion or a comment, or push a
 * branch to a fork, chooses freely. Lists: GitHub Security Lab, "Keeping your GitHub Actions and workflows secure
 * Part 2: Untrusted input" (securitylab.github.com/resources/github-actions-untrusted-input), GitHub's "Security
 * hardening for GitHub Actions" (script injections), and zizmor's template-injection audit (docs.zizmor.sh/audits).
 * Not listed on purpose: `inputs.*` and `github.event.inputs.*` of workflow_dispatch (only users with write access
 * can dispatch), SHAs, numbers and ids (their syntax is fixed), user logins and repository names (restricted
 * characters).
 */
export const ATTACKER_CONTROLLED: readonly string[] = [
  'github.head_ref',
  'github.event.issue.title',
  'github.event.issue.body',
  'github.event.pull_request.title',
  'github.event.pull_request.body',
  'github.event.pull_request.head.ref',
  'github.event.pull_request.head.label',
  'github.event.pull_request.head.repo.default_branch',
  'github.event.pull_request.head.repo.description',
  'github.event.pull_request.head.repo.homepage',
  'github.event.comment.body',
  'github.event.review.body',
  'github.event.review_comment.body',
  'github.event.discussion.title',
  'github.event.discussion.body',
  'github.event.pages.*.page_name',
  'github.event.pages.*.title',
  // `edited` events carry the text before the edit.
  'github.event.changes.title.from',
  'github.event.changes.body.from',
  'github.event.changes.base.ref.from',
  'github.event.commits.*.message',
  'github.event.commits.*.author.name',
  'github.event.commits.*.author.email',
  'github.event.commits.*.committer.name',
  'github.event.commits.*.committer.email',
  'github.event.head_commit.message',
  'github.event.head_commit.author.name',
  'github.event.head_commit.author.email',
  'github.event.head_commit.committer.name',
  'github.event.head_commit.committer.email',
  'github.event.workflow_run.head_branch',
  'github.event.workflow_run.display_title',
  'github.event.workflow_run.head_commit.message',
  'github.event.workflow_run.head_commit.author.name',
  'github.event.workflow_run.head_commit.author.email',
  'github.event.workflow_run.head_commit.committer.name',
  'github.event.workflow_run.head_commit.committer.email',
  'github.event.workflow_run.pull_requests.*.head.ref',
  'github.event.workflow_run.head_repository.description',
  'github.event.check_suite.head_branch',
  'github.event.check_run.check_suite.head_branch',
];

const PATTERNS = ATTACKER_CONTROLLED.map((p) => p.split('.'));

function matches(path: readonly string[], pattern: readonly string[]): boolean {
  return path.length === pattern.length && path.every((s, i) => s === pattern[i] || s === '*' || pattern[i] === '*');
}

/**
 * How an outsider controls a context path: 'field' when it is one of the fields above, 'object' when it is an object
 * that holds one (`toJSON(github.event.issue)`), undefined otherwise.
 */
export function attackerControl(path: string): 'field' | 'object' | undefined {
  const segs = path.split('.');
  if (PATTERNS.some((p) => matches(segs, p))) return 'field';
  // `github` itself (`toJSON(github)`) holds all of them; `github.sha` and the like hold none.
  if (PATTERNS.some((p) => p.length > segs.length && matches(segs, p.slice(0, segs.length)))) return 'object';
  return undefined;
}

/** The attacker-controlled paths an expression reads. */
export function attackerPaths(inner: string): { path: string; control: 'field' | 'object' }[] {
  const out: { path: string; control: 'field' | 'object' }[] = [];
  for (const path of contextPaths(inner)) {
    const control = attackerControl(path);
    if (control) out.push({ path, control });
  }
  return out;
}
