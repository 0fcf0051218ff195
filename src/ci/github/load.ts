/**
 * Find and read a repository's GitHub Actions files: `.github/workflows/*.yml|yaml` (GitHub reads only that folder,
 * not its subfolders), every `action.yml|yaml` in the tree (composite and Docker actions, which `uses: ./path` or other
 * repositories' `uses: owner/repo/path@ref` can run), and whatever a local `uses: ./path` names wherever it is. The
 * I/O edge of `ci audit`: bounded in files visited, never following symbolic links or leaving the tree.
 */

import type { Dirent } from 'node:fs';
import { lstatSync, readFileSync } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { basename, dirname, join, posix, resolve, sep } from 'node:path';
import { printable } from '../../errors.js';
import { rel, walkTree } from '../../util/treewalk.js';
import type { LoadError, Repository, Workflow } from '../model.js';
import { isLoadError, MAX_WORKFLOW_BYTES, parseGitHubFile } from './parse.js';

/** Files read as workflows or actions. */
export const MAX_FILES = 5_000;

const SKIP_DIRS = new Set(['.git', 'node_modules']);
/** Hidden directories other than .github hold tool state and caches (.cache, .venv, .tox), not actions to publish. */
const skipDir = (name: string): boolean => SKIP_DIRS.has(name) || (name.startsWith('.') && name !== '.github');
const YAML = /\.ya?ml$/;

/** The files to read under `root`, relative with forward slashes, and their kind; an error line when over a bound. */
export async function discover(
  root: string,
): Promise<{ files: { file: string; kind: 'workflow' | 'action' }[]; errors: LoadError[] }> {
  const files: { file: string; kind: 'workflow' | 'action' }[] = [];
  const errors: LoadError[] = [];
  const workflowsDir = join(root, '.github', 'workflows');
  const visit = (dir: string, path: string, e: Dirent): boolean => {
    if (!(e.isFile() || e.isSymbolicLink()) || !YAML.test(e.name)) return false;
    const kind = dir === workflowsDir ? 'workflow' : /^action\.ya?ml$/.test(e.name) ? 'action' : undefined;
    if (!kind) return false;
    if (e.isSymbolicLink()) {
      // Not followed (it may point out of the tree); not skipped in silence either: the audit is incomplete.
      errors.push({ file: rel(root, path), line: 1, column: 1, message: 'a symbolic link (not followed)' });
      return false;
    }
    if (files.length >= MAX_FILES) {
      errors.push({ file: '.', line: 1, column: 1, message: `more than ${MAX_FILES} workflow and action files` });
      return true;
    }
    files.push({ file: rel(root, path), kind });
    return false;
  };
  await walkTree(root, { skipDir, report: true }, visit, errors);
  return { files, errors };
}

function code(err: unknown): string {
  return printable((err as NodeJS.ErrnoException)?.code ?? String((err as Error)?.message ?? err), 80);
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Read and parse one file; any problem is a LoadError for that file (the others go on). */
export async function loadFile(root: string, file: string, kind: 'workflow' | 'action'): Promise<Workflow | LoadError> {
  const path = join(root, ...file.split('/'));
  let bytes: Buffer;
  try {
    // Synchronous: small files one after the other, where a promise round trip per call costs more than the read.
    const st = lstatSync(path);
    if (!st.isFile()) return { file, line: 1, column: 1, message: 'not a regular file' };
    if (st.size > MAX_WORKFLOW_BYTES)
      return {
        file,
        line: 1,
        column: 1,
        message: `larger than ${MAX_WORKFLOW_BYTES / 1024 / 1024} MiB (refused unread)`,
      };
    bytes = readFileSync(path);
  } catch (err) {
    return { file, line: 1, column: 1, message: `cannot read: ${code(err)}` };
  }
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    return { file, line: 1, column: 1, message: 'not UTF-8 text' };
  }
  // Parsing never throws for bad input; anything it throws is a bug and fails the run.
  return parseGitHubFile(file, text, kind);
}

/**
 * One file's repository and its path there: the directory above the last `.github` on its path (so the file is named
 * as an audit of the whole repository names it), else the file's own directory.
 */
export function inRepository(path: string): { base: string; file: string } {
  const parts = resolve(path).split(sep);
  const at = parts.lastIndexOf('.github', parts.length - 2);
  if (at < 1) return { base: dirname(resolve(path)), file: basename(path) };
  return { base: parts.slice(0, at).join(sep) || sep, file: parts.slice(at).join('/') };
}

/**
 * Everything under `root`: a directory (the repository) or one file (read as an action when named action.yml,
 * else as a workflow).
 */
export async function loadGitHub(root: string): Promise<Repository> {
  const st = await lstat(root);
  if (st.isFile()) {
    const { base, file } = inRepository(root);
    const one = await loadFile(base, file, /^action\.ya?ml$/.test(basename(root)) ? 'action' : 'workflow');
    return isLoadError(one)
      ? { root, base, workflows: [], errors: [one] }
      : { root, base, workflows: [one], errors: [] };
  }
  const found = await discover(root);
  const workflows: Workflow[] = [];
  const errors: LoadError[] = [...found.errors];
  const read = new Set<string>();
  const load = async (file: string, kind: 'workflow' | 'action'): Promise<void> => {
    read.add(file);
    const r = await loadFile(root, file, kind);
    if (isLoadError(r)) errors.push(r);
    else workflows.push(r);
  };
  for (const f of found.files) await load(f.file, f.kind);
  // Many workflows name the same local action: each candidate path is looked at once.
  const present = new Map<string, boolean>();
  const exists = async (file: string): Promise<boolean> => {
    let yes = present.get(file);
    if (yes === undefined) {
      yes = await isFile(join(root, ...file.split('/')));
      present.set(file, yes);
    }
    return yes;
  };
  // Local references the walk did not reach (a hidden directory): read them too, transitively, within the bounds.
  for (let i = 0; i < workflows.length && read.size < MAX_FILES; i++) {
    const w = workflows[i] as Workflow;
    const refs = w.jobs.flatMap((j) => [j.uses?.value, ...j.steps.map((s) => s.uses?.value)]);
    for (const ref of refs) {
      const target = localTarget(ref);
      if (!target) continue;
      const candidates = YAML.test(target) ? [target] : [`${target}/action.yml`, `${target}/action.yaml`];
      for (const c of candidates) {
        if (read.has(c)) break;
        if (await exists(c)) {
          await load(c, YAML.test(target) ? 'workflow' : 'action');
          break;
        }
      }
    }
  }
  errors.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line));
  return { root, workflows, errors };
}

/** The repository-relative path a local `uses: ./path` names, or undefined (remote, or leaving the tree). */
function localTarget(uses: string | undefined): string | undefined {
  if (!uses?.startsWith('./')) return undefined;
  const path = posix.normalize(uses.slice(2).replace(/\/+$/, ''));
  if (path === '.' || path.startsWith('..') || posix.isAbsolute(path)) return undefined;
  return path;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isFile();
  } catch {
    return false;
  }
}
