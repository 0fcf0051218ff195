import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ERROR_CATALOGUE, PortcullisError } from '../../src/errors.js';
import { WatchState } from '../../src/watch/state.js';

const tmp = mkdtempSync(join(tmpdir(), 'portcullis-statelock-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const newFile = () => join(tmp, `state-${n++}.db`);

function refusal(file: string): PortcullisError {
  try {
    WatchState.open(file).close();
  } catch (err) {
    expect(err).toBeInstanceOf(PortcullisError);
    return err as PortcullisError;
  }
  throw new Error(`${file} opened twice`);
}

/** The pid of a process that ran and exited: not running any more. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  expect(r.status).toBe(0);
  return r.pid as number;
}

describe('WatchState: one writer per state file', () => {
  it('a second open of a file in use is refused with one line naming the file and the holder', () => {
    const file = newFile();
    const first = WatchState.open(file);
    try {
      const err = refusal(file);
      expect(err.code).toBe('STATE_IN_USE');
      expect(ERROR_CATALOGUE.STATE_IN_USE.exit).toBe(2);
      expect(err.message).toBe(
        `state ${file} is in use by pid ${process.pid} (registry watch, since ${JSON.parse(readFileSync(`${file}.lock`, 'utf8')).startedAt}); stop it or use another state`,
      );
      expect(err.message.split('\n')).toHaveLength(1);
      // The refused open left the holder's lock and data alone.
      expect(first.tags()).toEqual([]);
      expect(JSON.parse(readFileSync(`${file}.lock`, 'utf8')).pid).toBe(process.pid);
    } finally {
      first.close();
    }
  });

  it('close releases the lock: the file opens again, and the lock file is gone', () => {
    const file = newFile();
    WatchState.open(file).close();
    expect(existsSync(`${file}.lock`)).toBe(false);
    const again = WatchState.open(file);
    expect(existsSync(`${file}.lock`)).toBe(true);
    again.close();
    again.close();
    expect(existsSync(`${file}.lock`)).toBe(false);
  });

  it('a stale lock (its pid no longer runs) is taken over and reported', () => {
    const file = newFile();
    const pid = deadPid();
    writeFileSync(`${file}.lock`, JSON.stringify({ pid, startedAt: '2026-01-01T00:00:00.000Z' }));
    const seen: unknown[] = [];
    const s = WatchState.open(file, { onTakeover: (p) => seen.push(p) });
    try {
      expect(seen).toEqual([{ pid, startedAt: '2026-01-01T00:00:00.000Z' }]);
      expect(JSON.parse(readFileSync(`${file}.lock`, 'utf8')).pid).toBe(process.pid);
      expect(refusal(file).code).toBe('STATE_IN_USE');
    } finally {
      s.close();
    }
  });

  it('a garbled lock file (a crash while writing it) is taken over too', () => {
    const file = newFile();
    writeFileSync(`${file}.lock`, '');
    const s = WatchState.open(file);
    expect(JSON.parse(readFileSync(`${file}.lock`, 'utf8')).pid).toBe(process.pid);
    s.close();
  });

  it('a lock held by another live process (here: our parent) is refused', () => {
    const file = newFile();
    writeFileSync(`${file}.lock`, JSON.stringify({ pid: process.ppid, startedAt: '2026-01-01T00:00:00.000Z' }));
    const err = refusal(file);
    expect(err.code).toBe('STATE_IN_USE');
    expect(err.message).toContain(`in use by pid ${process.ppid} (registry watch, since 2026-01-01T00:00:00.000Z)`);
    expect(JSON.parse(readFileSync(`${file}.lock`, 'utf8')).pid).toBe(process.ppid);
  });

  it("':memory:' takes no lock", () => {
    const a = WatchState.open(':memory:');
    const b = WatchState.open(':memory:');
    a.close();
    b.close();
    expect(existsSync(':memory:.lock')).toBe(false);
  });
});
