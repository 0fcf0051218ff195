/**
 * Find and read a repository's Jenkins pipelines: files named `Jenkinsfile`, `Jenkinsfile.<name>` or `<name>.jenkinsfile`
 * anywhere in the tree (skipping .git, node_modules and hidden directories), bounded in entries visited and files read,
 * never following symbolic links. The I/O edge; the model is built by parse.ts.
 */
import type { Dirent } from 'node:fs';
import { lstat, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { printable } from '../../errors.js';
import { rel, walkTree } from '../../util/treewalk.js';
import type { LoadError, Repository, Workflow } from '../model.js';
import { MAX_JENKINS_BYTES } from './lex.js';
import { isJenkinsError, parseJenkinsFile } from './parse.js';

export const MAX_FILES = 500;

/** `Jenkinsfile`, `Jenkinsfile.release`, `deploy.jenkinsfile`; not documents about them (`Jenkinsfile.md`). */
export const JENKINS_FILE = /^(Jenkinsfile(\.[\w.-]+)?|[\w.-]+\.jenkinsfile)$/i;
const NOT_PIPELINE = /\.(md|txt|rst|adoc|html|orig|bak|swp)$/i;
export const isJenkinsFile = (name: string): boolean => JENKINS_FILE.test(name) && !NOT_PIPELINE.test(name);

const skipDir = (name: string): boolean => name === 'node_modules' || name.startsWith('.');
const UTF8 = new TextDecoder('utf-8', { fatal: true });
const code = (err: unknown): string => printable((err as NodeJS.ErrnoException)?.code ?? String(err), 80);

async function discover(root: string): Promise<{ files: string[]; errors: LoadError[] }> {
  const files: string[] = [];
  const errors: LoadError[] = [];
  // Unreadable directories and the entry bound are reported by the GitHub walk of the same tree.
  const visit = (_dir: string, path: string, e: Dirent): boolean => {
    if (!isJenkinsFile(e.name)) return false;
    if (e.isSymbolicLink()) {
      errors.push({ file: rel(root, path), line: 1, column: 1, message: 'a symbolic link (not followed)' });
    } else if (files.length >= MAX_FILES) {
      errors.push({ file: '.', line: 1, column: 1, message: `more than ${MAX_FILES} Jenkinsfiles` });
      return true;
    } else if (e.isFile()) files.push(rel(root, path));
    return false;
  };
  await walkTree(root, { skipDir, report: false }, visit, errors);
  return { files, errors };
}

async function loadFile(root: string, file: string): Promise<{ workflow?: Workflow; notes: LoadError[] } | LoadError> {
  const path = join(root, ...file.split('/'));
  let text: string;
  try {
    const st = await lstat(path);
    if (!st.isFile()) return { file, line: 1, column: 1, message: 'not a regular file' };
    if (st.size > MAX_JENKINS_BYTES)
      return {
        file,
        line: 1,
        column: 1,
        message: `larger than ${MAX_JENKINS_BYTES / 1024 / 1024} MiB (refused unread)`,
      };
    text = UTF8.decode(await readFile(path));
  } catch (err) {
    return {
      file,
      line: 1,
      column: 1,
      message: err instanceof TypeError ? 'not UTF-8 text' : `cannot read: ${code(err)}`,
    };
  }
  const parsed = parseJenkinsFile(file, text);
  return isJenkinsError(parsed) ? parsed : { workflow: parsed.workflow, notes: parsed.notes };
}

/** The Jenkins pipelines under `root`, or the one file `root` names. */
export async function loadJenkins(root: string): Promise<Repository & { notes: LoadError[] }> {
  const st = await lstat(root);
  if (st.isFile() && !isJenkinsFile(basename(root))) return { root, workflows: [], errors: [], notes: [] };
  const found = st.isFile() ? { files: [basename(root)], errors: [] as LoadError[] } : await discover(root);
  const base = st.isFile() ? join(root, '..') : root;
  const workflows: Workflow[] = [];
  const errors = [...found.errors];
  const notes: LoadError[] = [];
  for (const f of found.files) {
    const one = await loadFile(base, f);
    if ('message' in one) errors.push(one);
    else {
      if (one.workflow) workflows.push(one.workflow);
      notes.push(...one.notes);
    }
  }
  return { root, workflows, errors, notes };
}
