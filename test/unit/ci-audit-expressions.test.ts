import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { attackerControl, attackerPaths, contextPaths, extractExpressions } from '../../src/ci/github/expressions.js';
import { jobGuard, jobRunsFor } from '../../src/ci/github/reach.js';
import type { Job, Workflow } from '../../src/ci/model.js';

/** A GitHub expression as a workflow writes it (built up, so it is not read as a template literal by mistake). */
const gh = (inner: string): string => ['$', '{{ ', inner, ' }}'].join('');

describe('expressions', () => {
  it('finds each expression with its offset, honouring quotes, and drops an unterminated one', () => {
    const text = `echo ${gh('github.head_ref')} && x=${gh("format('{0}}}', github.event.issue.title)")} ${'$'}{{ open`;
    const found = extractExpressions(text);
    expect(found.map((e) => e.inner.trim())).toEqual(['github.head_ref', "format('{0}}}', github.event.issue.title)"]);
    expect(text.slice(found[0]?.start, (found[0]?.start ?? 0) + 3)).toBe('${{');
  });

  it('reads context paths: dotted, indexed, filtered, case-insensitive; not functions, literals or strings', () => {
    expect(contextPaths("contains(github.event.commits[0].Message, 'github.head_ref') && true")).toEqual([
      'github.event.commits.*.message',
    ]);
    expect(contextPaths("github['event']['issue'].title || github.event.commits.*.author.email")).toEqual([
      'github.event.issue.title',
      'github.event.commits.*.author.email',
    ]);
    expect(contextPaths("toJSON(github.event.pull_request) == 'x' || null")).toEqual(['github.event.pull_request']);
  });

  it('knows what an outsider controls, and what they do not', () => {
    for (const p of [
      'github.event.issue.title',
      'github.event.pull_request.body',
      'github.head_ref',
      'github.event.pull_request.head.ref',
      'github.event.comment.body',
      'github.event.commits.*.message',
      'github.event.head_commit.author.email',
      'github.event.workflow_run.head_branch',
      'github.event.pages.*.page_name',
      'github.event.discussion.title',
    ])
      expect(attackerControl(p), p).toBe('field');
    for (const p of ['github.event.pull_request', 'github.event', 'github.event.head_commit', 'github'])
      expect(attackerControl(p), p).toBe('object');
    for (const p of ['github.event.changes.title.from', 'github.event.changes.body.from', 'github.event.pages.*.title'])
      expect(attackerControl(p), p).toBe('field');
    for (const p of [
      'github.event.pull_request.number',
      'github.event.pull_request.head.sha',
      'inputs.version',
      'github.event.inputs.version',
      'github.sha',
      'github.event_name',
      'steps.meta.outputs.sha',
      'secrets.token',
    ])
      expect(attackerControl(p), p).toBeUndefined();
    expect(attackerPaths('github.event.issue.title || github.sha')).toEqual([
      { path: 'github.event.issue.title', control: 'field' },
    ]);
  });

  it('never throws and stays linear on any text, including deeply nested expressions', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (s) => {
        for (const e of extractExpressions(s)) contextPaths(e.inner);
        contextPaths(s);
      }),
      { numRuns: 2000 },
    );
    const deep = gh(`${'format('.repeat(20_000)}github.event.issue.title${')'.repeat(20_000)}`);
    const [e] = extractExpressions(deep);
    expect(attackerPaths(e?.inner ?? '')).toEqual([{ path: 'github.event.issue.title', control: 'field' }]);
  });
});

const job = (id: string, cond?: string, needs: string[] = []): Job => ({
  id,
  pos: { line: 1, column: 1 },
  runsOn: ['ubuntu-24.04'],
  needs,
  with: {},
  env: {},
  images: [],
  steps: [],
  ...(cond ? { if: { value: cond, pos: { line: 1, column: 1 } } } : {}),
});
const wf = (jobs: Job[]): Workflow => ({ file: 'w.yml', kind: 'workflow', triggers: [], env: {}, jobs });

describe('job guards and event filters', () => {
  it('recognises guards on same-repository heads, trusted authors and named pull request authors', () => {
    for (const c of [
      'github.event.pull_request.head.repo.full_name == github.repository',
      gh('github.event.pull_request.head.repo.fork == false'),
      "!github.event.pull_request.head.repo.fork && github.event.action == 'opened'",
      "github.event.comment.author_association == 'MEMBER' || github.event.comment.author_association == 'OWNER'",
      'contains(fromJSON(\'["OWNER","MEMBER","COLLABORATOR"]\'), github.event.pull_request.author_association)',
      "(github.event.pull_request.user.login == 'dependabot[bot]')",
      "github.event.workflow_run.head_repository.full_name == github.repository && github.event.workflow_run.conclusion == 'success'",
    ])
      expect(jobGuard(wf([job('a', c)]), job('a', c)), c).toBeDefined();
  });

  it('does not take an escapable condition for a guard', () => {
    for (const c of [
      "github.event.pull_request.head.repo.full_name == github.repository || github.event.action == 'labeled'",
      "contains(github.event.pull_request.labels.*.name, 'safe to test')",
      "contains(github.event.comment.body, '/ok-to-test')",
      "github.event.pull_request.author_association != 'FIRST_TIME_CONTRIBUTOR'",
      'contains(fromJSON(\'["OWNER","CONTRIBUTOR"]\'), github.event.pull_request.author_association)',
      "github.actor != 'dependabot[bot]'",
      // The actor is whoever caused the event (a maintainer labelling, Dependabot rebasing), not the code's author.
      "github.actor == 'dependabot[bot]'",
      "github.triggering_actor == 'release-bot'",
      // Negations may admit exactly the outsiders.
      '!(github.event.pull_request.head.repo.full_name == github.repository)',
      'contains(fromJSON(\'["OWNER","MEMBER"]\'), github.event.pull_request.author_association) == false',
    ])
      expect(jobGuard(wf([job('a', c)]), job('a', c)), c).toBeUndefined();
  });

  it('a job that needs a guarded job is guarded, unless always() runs it anyway', () => {
    const gate = job('gate', 'github.event.pull_request.head.repo.full_name == github.repository');
    const after = job('after', undefined, ['gate']);
    const always = job('always', 'always()', ['gate']);
    const w = wf([gate, after, always]);
    expect(jobGuard(w, after)).toMatch(/through the job it needs, gate/);
    expect(jobGuard(w, always)).toBeUndefined();
    // A cycle of needs terminates.
    const x = job('x', undefined, ['y']);
    const y = job('y', undefined, ['x']);
    expect(jobGuard(wf([x, y]), x)).toBeUndefined();
  });

  it('keeps a job to the events its if: names', () => {
    expect(jobRunsFor(job('a', "github.event_name == 'push'"), 'pull_request_target')).toBe(false);
    expect(jobRunsFor(job('a', gh("github.event_name == 'push'")), 'push')).toBe(true);
    expect(jobRunsFor(job('a', "github.event_name != 'pull_request_target'"), 'pull_request_target')).toBe(false);
    // An || runs for what any branch runs for; a negation could mean anything.
    const pushOrDispatch = job('a', "github.event_name == 'push' || github.event_name == 'workflow_dispatch'");
    expect(jobRunsFor(pushOrDispatch, 'pull_request_target')).toBe(false);
    expect(jobRunsFor(pushOrDispatch, 'workflow_dispatch')).toBe(true);
    const listed = job('a', 'contains(fromJSON(\'["push","workflow_dispatch"]\'), github.event_name)');
    expect(jobRunsFor(listed, 'pull_request_target')).toBe(false);
    expect(jobRunsFor(listed, 'push')).toBe(true);
    expect(jobRunsFor(job('a', "github.event_name == 'push' || github.actor == 'x'"), 'issue_comment')).toBe(true);
    expect(jobRunsFor(job('a', gh("!(github.event_name == 'push')")), 'pull_request_target')).toBe(true);
    expect(jobRunsFor(job('a'), 'workflow_run')).toBe(true);
  });
});
