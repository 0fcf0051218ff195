/**
 * `ci audit`: discover and load the repository's pipeline files, run every rule on each, and return the findings
 * sorted by file and line, with the files that could not be read (which make the run fail closed).
 */

import { lstatSync } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { type Finding, sortByFile } from '../findings/finding.js';
import { type CiAuditConfig, DEFAULT_CI_CONFIG, loadCiConfig } from './config.js';
import { inRepository, loadGitHub } from './github/load.js';
import { RepoIndex } from './github/reach.js';
import { GITLAB_FILE, loadGitLab } from './gitlab/load.js';
import { isJenkinsFile, loadJenkins } from './jenkins/load.js';
import type { LoadError, Pos, Repository, Workflow } from './model.js';
import type { CiRule } from './rule.js';
import { CI_RULES } from './rules/index.js';

export interface CiAuditResult {
  readonly root: string;
  /** The directory the files and the findings' paths are relative to: the root, or for one file its repository. */
  readonly base: string;
  /** The files read, relative to the base. */
  readonly files: readonly string[];
  readonly findings: readonly Finding[];
  readonly errors: readonly LoadError[];
  /** What the rules could not check or decide (a rule without its configuration, an unresolvable push). */
  readonly notes: readonly CiNote[];
  /** Findings the configuration's `ignore` entries accepted, with their reasons. */
  readonly ignored: readonly CiIgnored[];
  /** The configuration file used, when there was one. */
  readonly config?: string;
}

export interface CiNote {
  readonly ruleId: string;
  /** Absent for a rule that did not run at all. */
  readonly file?: string;
  readonly line?: number;
  readonly message: string;
}

export interface CiIgnored {
  readonly ruleId: string;
  readonly file: string;
  readonly line: number;
  readonly reason: string;
}

/** Run the rules on loaded workflows (pure). A rule that throws is a bug: it is not swallowed. */
export function runRules(
  workflows: readonly Workflow[],
  config: CiAuditConfig = DEFAULT_CI_CONFIG,
  rules: readonly CiRule[] = CI_RULES,
): { findings: Finding[]; notes: CiNote[]; ignored: CiIgnored[] } {
  const repo = new RepoIndex(workflows);
  const out: Finding[] = [];
  const notes: CiNote[] = [];
  const ignored: CiIgnored[] = [];
  const skipped = new Set<string>();
  const inherited = new Map<string, { index: number; n: number; jobs: string[] }>();
  for (const rule of rules) {
    const why = rule.notChecked?.(config);
    if (why) {
      skipped.add(rule.id);
      notes.push({ ruleId: rule.id, message: `not checked: ${why}` });
    }
  }
  for (const w of workflows) {
    for (const rule of rules) {
      if (skipped.has(rule.id)) continue;
      if (rule.platforms && !rule.platforms.includes(w.platform ?? 'github')) continue;
      const note = (pos: Pos, message: string) =>
        notes.push({ ruleId: rule.id, file: w.file, line: pos.line, message });
      for (const hit of rule.check(w, { repo, config, note })) {
        const accepted = config.ignore.find(
          (e) =>
            e.rule === rule.id &&
            (!e.files || e.files.some((g) => g.test(hit.pos.file ?? w.file))) &&
            (!e.jobs || (hit.job !== undefined && e.jobs.includes(hit.job))),
        );
        if (accepted) {
          ignored.push({ ruleId: rule.id, file: hit.pos.file ?? w.file, line: hit.pos.line, reason: accepted.reason });
          continue;
        }
        // GitLab: a line inherited (extends, default:, anchors) by several jobs is one finding, naming the others.
        const key = `${rule.id}\0${hit.pos.file ?? w.file}\0${hit.pos.line}\0${hit.pos.column}`;
        const first = w.platform === 'gitlab' ? inherited.get(key) : undefined;
        if (first) {
          first.n++;
          if (hit.job !== undefined) first.jobs.push(hit.job);
          continue;
        }
        if (w.platform === 'gitlab') inherited.set(key, { index: out.length, n: 0, jobs: [] });
        out.push({
          ruleId: rule.id,
          kind: 'ci',
          severity: hit.severity ?? rule.severity,
          confidence: hit.confidence ?? rule.confidence,
          title: rule.title,
          message: hit.message,
          location: { kind: 'file', path: hit.pos.file ?? w.file, line: hit.pos.line, column: hit.pos.column },
          fix: { text: rule.remediation },
        });
      }
    }
  }
  for (const { index, n, jobs } of inherited.values()) {
    const f = out[index] as Finding;
    const names = jobs.length ? `: ${jobs.slice(0, 5).join(', ')}${jobs.length > 5 ? ', ...' : ''}` : '';
    if (n)
      out[index] = { ...f, message: `${f.message} (the same line reaches ${n} more job${n > 1 ? 's' : ''}${names})` };
  }
  return { findings: sortFindings(out), notes, ignored };
}

/** The findings only (the default configuration unless given). */
export function auditWorkflows(
  workflows: readonly Workflow[],
  rules: readonly CiRule[] = CI_RULES,
  config: CiAuditConfig = DEFAULT_CI_CONFIG,
): Finding[] {
  return runRules(workflows, config, rules).findings;
}

const ORDER = new Map(CI_RULES.map((r, i) => [r.id, i]));

export function sortFindings(findings: Finding[]): Finding[] {
  return sortByFile(findings, ORDER);
}

export function auditRepository(repo: Repository, config: CiAuditConfig = DEFAULT_CI_CONFIG): CiAuditResult {
  const r = runRules(repo.workflows, config);
  return {
    root: repo.root,
    base: repo.base ?? repo.root,
    files: repo.workflows.flatMap((w) => [w.file, ...(w.included ?? [])]),
    findings: r.findings,
    errors: repo.errors,
    // What the loaders deliberately did not read (GitLab remote includes) comes first.
    notes: [
      ...(repo.notes ?? []).map((n) => ({ ruleId: 'not-read', file: n.file, line: n.line, message: n.message })),
      ...r.notes,
    ],
    ignored: r.ignored,
    ...(config.file ? { config: config.file } : {}),
  };
}

/**
 * Audit a repository (or one file) on disk, with `opts.config` (a file that must exist), else the repository's
 * `.portcullis/ci.yaml` when it has one, else the defaults.
 */
export async function auditPath(root: string, opts: { readonly config?: string } = {}): Promise<CiAuditResult> {
  const config = loadCiConfig(
    root,
    opts.config,
    CI_RULES.map((r) => r.id),
  );
  return auditRepository(await loadRepository(root), config);
}

/** The directory the paths of the files loadRepository(root) reads are relative to. */
export function repositoryBase(root: string): string {
  if (!lstatSync(root).isFile()) return root;
  const name = basename(root);
  return GITLAB_FILE.test(name) || isJenkinsFile(name) ? dirname(root) : inRepository(root).base;
}

/** GitHub Actions files, the GitLab pipeline and Jenkinsfiles under `root` (or the one file `root` names), in one repository. */
export async function loadRepository(root: string): Promise<Repository> {
  const base = repositoryBase(root);
  const gl = await loadGitLab(root);
  if (GITLAB_FILE.test(basename(root)) && (await lstat(root)).isFile())
    return { root, base, workflows: gl.workflows, errors: gl.errors, notes: gl.notes };
  const jk = await loadJenkins(root);
  if (isJenkinsFile(basename(root)) && (await lstat(root)).isFile()) return { ...jk, base };
  const gh = await loadGitHub(root);
  return {
    root,
    base,
    workflows: [...gh.workflows, ...gl.workflows, ...jk.workflows],
    errors: [...gh.errors, ...gl.errors, ...jk.errors],
    notes: [...(gh.notes ?? []), ...gl.notes, ...jk.notes],
  };
}
