/**
 * Read a repository's GitLab CI configuration: `.gitlab-ci.yml` at the root and, transitively, the local files its
 * `include:` names (plain paths and `*`/`**` wildcards), inside the root only, never through a symbolic link, at most
 * MAX_INCLUDES files. Remote, project, template and component includes are not fetched: each becomes a note saying what
 * was not read. The I/O edge; the model is built by parse.ts.
 */
import { lstat, readdir, readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { printable } from '../../errors.js';
import type { Include, LoadError, Workflow } from '../model.js';
import { buildPipeline, type IncludeEntry, readIncludes } from './parse.js';
import { GitLabError, MAX_GITLAB_BYTES, type PNode, parseTree } from './tree.js';

/** GitLab's default limit on included files per pipeline. ref: https://docs.gitlab.com/ci/yaml/includes/ */
export const MAX_INCLUDES = 150;
/** Directory entries a wildcard include may look at. */
const MAX_GLOB_ENTRIES = 20_000;

export const GITLAB_FILE = /(^|[./])gitlab-ci\.ya?ml$/;

const UTF8 = new TextDecoder('utf-8', { fatal: true });

function errorAt(e: GitLabError, fallback: string): LoadError {
  return { file: e.pos.file ?? fallback, line: e.pos.line, column: e.pos.column, message: printable(e.message, 200) };
}

/** The path's components are all real directories (no symbolic link) and it is a regular file; else why not. */
async function checkPath(root: string, rel: string): Promise<string | undefined> {
  const parts = rel.split('/');
  let at = root;
  for (let i = 0; i < parts.length; i++) {
    at = join(at, parts[i] as string);
    let st: import('node:fs').Stats;
    try {
      st = await lstat(at);
    } catch (err) {
      return `cannot read: ${printable((err as NodeJS.ErrnoException)?.code ?? String(err), 40)}`;
    }
    if (st.isSymbolicLink()) return 'a symbolic link (not followed)';
    if (i < parts.length - 1 && !st.isDirectory()) return 'not found';
    if (i === parts.length - 1) {
      if (!st.isFile()) return 'not a regular file';
      if (st.size > MAX_GITLAB_BYTES) return `larger than ${MAX_GITLAB_BYTES / 1024 / 1024} MiB (refused unread)`;
    }
  }
  return undefined;
}

async function readTree(root: string, rel: string): Promise<PNode> {
  const why = await checkPath(root, rel);
  if (why) throw new GitLabError({ line: 1, column: 1, file: rel }, why);
  let text: string;
  try {
    text = UTF8.decode(await readFile(join(root, ...rel.split('/'))));
  } catch (err) {
    const what = err instanceof TypeError ? 'not UTF-8 text' : `cannot read: ${(err as NodeJS.ErrnoException)?.code}`;
    throw new GitLabError({ line: 1, column: 1, file: rel }, what);
  }
  return parseTree(rel, text);
}

/** Files under root matching a wildcard local include (`*` within a name, `**` across directories), sorted. */
async function glob(root: string, pattern: string): Promise<string[]> {
  const re = new RegExp(
    `^${pattern
      .split(/(\*\*\/?|\*)/)
      .map((p) =>
        p.startsWith('**')
          ? '(?:.*/)?' + (p === '**' ? '.*' : '')
          : p === '*'
            ? '[^/]*'
            : p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'),
      )
      .join('')}$`,
  );
  const fixed = pattern
    .slice(0, pattern.indexOf('*'))
    .replace(/[^/]*$/, '')
    .replace(/\/$/, '');
  const out: string[] = [];
  let seen = 0;
  const queue = [fixed];
  while (queue.length) {
    const dir = queue.shift() as string;
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(join(root, ...dir.split('/').filter(Boolean)), { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      if (++seen > MAX_GLOB_ENTRIES) return out.sort();
      const rel = dir ? `${dir}/${e.name}` : e.name;
      if (e.isDirectory() && e.name !== '.git') queue.push(rel);
      // A matching symbolic link is kept, so that reading it fails where the include is.
      else if ((e.isFile() || e.isSymbolicLink()) && re.test(rel)) out.push(rel);
    }
  }
  return out.sort();
}

export interface GitLabLoad {
  readonly workflows: Workflow[];
  readonly errors: LoadError[];
  readonly notes: LoadError[];
}

function note(i: Include, from: string): LoadError {
  const what =
    i.kind === 'local'
      ? `include:local ${printable(i.value, 120)}`
      : `include:${i.kind} ${printable(i.value, 120)}${i.ref ? ` (ref ${printable(i.ref, 60)})` : ''}`;
  const why =
    i.kind === 'local'
      ? 'not read (it names a variable, or a path outside the repository)'
      : 'not fetched: the jobs and settings it adds are not audited';
  return { file: i.pos.file ?? from, line: i.pos.line, column: i.pos.column, message: `${what}: ${why}` };
}

/** Read one pipeline, rooted at `file` (relative to root). */
export async function loadPipeline(root: string, file: string): Promise<GitLabLoad> {
  const trees = new Map<string, PNode>();
  const children = new Map<string, string[]>();
  const includes: Include[] = [];
  const notes: LoadError[] = [];
  try {
    trees.set(file, await readTree(root, file));
    const queue = [file];
    while (queue.length) {
      const at = queue.shift() as string;
      const kids: string[] = [];
      children.set(at, kids);
      for (const inc of readIncludes(trees.get(at) as PNode)) {
        if (inc.kind !== 'local') {
          includes.push(stripLocal(inc));
          notes.push(note(inc, at));
          continue;
        }
        if (!inc.local || /\$/.test(inc.value)) {
          notes.push(note(inc, at));
          continue;
        }
        const paths = inc.local.includes('*') ? await glob(root, inc.local) : [inc.local];
        for (const p of paths) {
          if (trees.has(p)) {
            kids.push(p);
            continue;
          }
          if (trees.size > MAX_INCLUDES)
            throw new GitLabError(inc.pos, `more than ${MAX_INCLUDES} included files (GitLab's limit)`);
          try {
            trees.set(p, await readTree(root, p));
          } catch (err) {
            if (!(err instanceof GitLabError)) throw err;
            // Where the include is written, saying which file could not be read and why.
            if (err.pos.file === p && err.pos.line === 1 && err.pos.column === 1)
              throw new GitLabError(inc.pos, `include:local ${printable(p, 120)}: ${err.message}`);
            throw err;
          }
          kids.push(p);
          queue.push(p);
        }
      }
    }
    const built = buildPipeline({ root: file, trees, children, includes });
    for (const n of built.notes)
      notes.push({ file: n.pos.file ?? file, line: n.pos.line, column: n.pos.column, message: n.message });
    return { workflows: [built.workflow], errors: [], notes };
  } catch (err) {
    if (err instanceof GitLabError) return { workflows: [], errors: [errorAt(err, file)], notes };
    throw err;
  }
}

function stripLocal(i: IncludeEntry): Include {
  const { local: _local, ...rest } = i;
  return rest;
}

/** The repository's `.gitlab-ci.yml` (none: nothing), or one file named like a GitLab CI file. */
export async function loadGitLab(root: string): Promise<GitLabLoad> {
  const st = await lstat(root);
  if (st.isFile()) return GITLAB_FILE.test(basename(root)) ? loadPipeline(dirname(root), basename(root)) : empty();
  for (const name of ['.gitlab-ci.yml']) {
    try {
      await lstat(join(root, name));
    } catch {
      continue;
    }
    return loadPipeline(root, name);
  }
  return empty();
}

function empty(): GitLabLoad {
  return { workflows: [], errors: [], notes: [] };
}
