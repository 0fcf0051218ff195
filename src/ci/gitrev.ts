/**
 * The pipeline files of a git revision, written into a temporary directory so the same loaders read them: `git
 * ls-tree` lists the tree under PATH, `git cat-file --batch` gives the YAML blobs. Only the repository's own git runs,
 * without a shell, with every network protocol refused (a partial clone would otherwise fetch missing objects) and
 * without the fsmonitor hook. Bounded in files and bytes; what the loaders would refuse (too large) stays too large.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { fail, PortcullisError, printable } from '../errors.js';
import { MAX_FILES } from './github/load.js';
import { MAX_WORKFLOW_BYTES } from './github/parse.js';

const GIT_ENV = {
  GIT_ALLOW_PROTOCOL: 'file',
  GIT_NO_LAZY_FETCH: '1',
  GIT_TERMINAL_PROMPT: '0',
  GIT_OPTIONAL_LOCKS: '0',
};
const GIT_ARGS = ['-c', 'core.fsmonitor=false', '-c', 'protocol.allow=never'];
const YAML = /\.ya?ml$/;
/** Total YAML bytes taken from one revision. */
const MAX_TOTAL_BYTES = 256 * 1024 * 1024;

function git(cwd: string, args: readonly string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      [...GIT_ARGS, ...args],
      { cwd, env: { ...process.env, ...GIT_ENV }, encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const why = printable(stderr.toString('utf8').trim().split('\n')[0] || err.message, 200);
        reject(new PortcullisError('CI_GIT_FAILED', `git ${args[0]} in ${printable(cwd)}: ${why}`));
      },
    );
  });
}

interface Entry {
  readonly mode: string;
  readonly oid: string;
  readonly size: number;
  readonly path: string;
}

/** Blob contents by object id, through one `git cat-file --batch`. */
function catFile(cwd: string, oids: readonly string[]): Promise<Map<string, Buffer>> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', [...GIT_ARGS, 'cat-file', '--batch'], {
      cwd,
      env: { ...process.env, ...GIT_ENV },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const chunks: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.stderr.on('data', (c: Buffer) => {
      if (err.length < 1000) err += c.toString('utf8');
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) {
        reject(
          Object.assign(new Error(`git cat-file: ${printable(err.trim() || `exit ${code}`, 200)}`), { git: true }),
        );
        return;
      }
      const out = Buffer.concat(chunks);
      const map = new Map<string, Buffer>();
      let at = 0;
      while (at < out.length) {
        const nl = out.indexOf(10, at);
        if (nl < 0) break;
        const [oid, type, size] = out.subarray(at, nl).toString('latin1').split(' ');
        if (type !== 'blob' || size === undefined) {
          at = nl + 1;
          continue;
        }
        const n = Number(size);
        map.set(oid as string, out.subarray(nl + 1, nl + 1 + n));
        at = nl + 1 + n + 1;
      }
      resolve(map);
    });
    child.stdin.end(oids.map((o) => `${o}\n`).join(''));
  });
}

/**
 * Write the YAML files of `rev` under the repository directory `root` into a new temporary directory, and return it
 * with a function that removes it. CI_GIT_FAILED when `root` is not in a work tree or `rev` is no commit.
 */
export async function checkoutRevision(root: string, rev: string): Promise<{ dir: string; remove: () => void }> {
  if (rev === '' || rev.startsWith('-') || /[\u0000-\u001f]/.test(rev))
    fail('USAGE', `--since '${printable(rev, 100)}': not a revision`);
  await git(root, ['rev-parse', '--is-inside-work-tree']);
  const commit = (
    await git(root, ['rev-parse', '--verify', '--quiet', '--end-of-options', `${rev}^{commit}`]).catch(() =>
      fail('CI_GIT_FAILED', `--since ${printable(rev, 100)}: no such commit in the repository at ${printable(root)}`),
    )
  )
    .toString('utf8')
    .trim();
  if (!/^[0-9a-f]{40,64}$/.test(commit)) fail('CI_GIT_FAILED', `--since ${printable(rev, 100)}: no such commit`);
  const listing = await git(root, ['ls-tree', '-r', '-z', '--long', commit, '--', '.']);
  const entries: Entry[] = [];
  for (const rec of listing.toString('utf8').split('\0')) {
    const tab = rec.indexOf('\t');
    if (tab < 0) continue;
    const [mode, type, oid, size] = rec.slice(0, tab).split(/\s+/);
    const path = rec.slice(tab + 1);
    if (type !== 'blob' || !YAML.test(path) || !oid) continue;
    // Paths are relative to root (ls-tree from a subdirectory lists that subdirectory); anything odd is skipped.
    const norm = posix.normalize(path);
    if (norm.startsWith('..') || posix.isAbsolute(norm) || norm.split('/').includes('.git')) continue;
    entries.push({ mode: mode as string, oid, size: Number(size), path: norm });
    if (entries.length > MAX_FILES * 4) fail('CI_GIT_FAILED', `${rev}: more than ${MAX_FILES * 4} YAML files`);
  }
  const wanted = entries.filter((e) => e.mode !== '120000' && e.size <= MAX_WORKFLOW_BYTES);
  const links = entries.filter((e) => e.mode === '120000');
  const total = wanted.reduce((n, e) => n + e.size, 0) + links.reduce((n, e) => n + Math.min(e.size, 4096), 0);
  if (total > MAX_TOTAL_BYTES) fail('CI_GIT_FAILED', `${rev}: more than ${MAX_TOTAL_BYTES / 1024 / 1024} MiB of YAML`);
  let blobs: Map<string, Buffer>;
  try {
    blobs = await catFile(
      root,
      [...wanted, ...links].map((e) => e.oid),
    );
  } catch (err) {
    return fail('CI_GIT_FAILED', printable((err as Error).message, 300));
  }
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-rev-'));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    for (const e of entries) {
      const target = join(dir, ...e.path.split('/'));
      mkdirSync(dirname(target), { recursive: true });
      if (e.mode === '120000') {
        // A link is kept a link: the loaders refuse to follow it, as they do in a checkout.
        symlinkSync(blobs.get(e.oid)?.toString('utf8') ?? 'missing', target);
      } else if (e.size > MAX_WORKFLOW_BYTES) {
        // Same size, no content: the loader refuses it by size, as it would the real file.
        writeFileSync(target, '');
        truncateSync(target, e.size);
      } else {
        const b = blobs.get(e.oid);
        if (!b) fail('CI_GIT_FAILED', `${rev}:${printable(e.path)}: the object is missing`);
        writeFileSync(target, b);
      }
    }
  } catch (err) {
    remove();
    throw err;
  }
  return { dir, remove };
}
