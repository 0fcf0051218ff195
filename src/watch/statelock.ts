import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { fail } from '../errors.js';
import { processAlive } from '../util/process.js';

/**
 * The single-writer lock of a watch state file: `${file}.lock`, created exclusively ('wx'), holding the owner's pid
 * and start time. Two writers on one state would both deliver the same alerts, so a second one is refused while the
 * owner lives; a lock whose pid is gone (a crash, a SIGKILL) is taken over.
 */

export interface LockOwner {
  readonly pid: number;
  readonly startedAt?: string;
}

export interface StateLock {
  readonly path: string;
  /** The stale owner this lock was taken over from, if any. */
  readonly tookOverFrom?: LockOwner;
  release(): void;
}

function readOwner(path: string): LockOwner | undefined {
  try {
    const o = JSON.parse(readFileSync(path, 'utf8')) as { pid?: unknown; startedAt?: unknown };
    if (typeof o.pid !== 'number' || !Number.isSafeInteger(o.pid) || o.pid <= 0) return undefined;
    return { pid: o.pid, ...(typeof o.startedAt === 'string' ? { startedAt: o.startedAt.slice(0, 64) } : {}) };
  } catch {
    return undefined;
  }
}

export function acquireStateLock(file: string, alive: (pid: number) => boolean = processAlive): StateLock {
  const path = `${file}.lock`;
  const token = JSON.stringify({ pid: process.pid, startedAt: new Date().toISOString(), by: 'registry watch' });
  let tookOverFrom: LockOwner | undefined;
  // Two rounds: a stale lock is removed once, then the exclusive create decides between racing takers.
  for (let round = 0; round < 2; round++) {
    try {
      writeFileSync(path, `${token}\n`, { flag: 'wx', mode: 0o600 });
      return lockOf(path, token, tookOverFrom);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        return fail('CONFIG_INVALID', `${path}: cannot create the state lock (${(err as Error).message})`);
      }
    }
    const owner = readOwner(path);
    if (owner && alive(owner.pid)) break;
    tookOverFrom = owner ?? { pid: 0 };
    try {
      unlinkSync(path);
    } catch {
      // Another taker removed it first; the exclusive create settles it.
    }
  }
  const owner = readOwner(path);
  return fail(
    'STATE_IN_USE',
    `state ${file} is in use by pid ${owner?.pid ?? '?'} (registry watch${owner?.startedAt ? `, since ${owner.startedAt}` : ''}); stop it or use another state`,
  );
}

function lockOf(path: string, token: string, tookOverFrom: LockOwner | undefined): StateLock {
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    process.off('exit', release);
    try {
      // Only our own lock: a stale-taker may have replaced it.
      if (readFileSync(path, 'utf8').trim() === token) unlinkSync(path);
    } catch {
      // Already gone.
    }
  };
  process.on('exit', release);
  return { path, ...(tookOverFrom ? { tookOverFrom } : {}), release };
}
