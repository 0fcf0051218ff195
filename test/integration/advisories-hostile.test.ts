import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { CLI, EXAMPLE, ROOT } from '../helpers/paths.js';

const IMAGE = `oci:${EXAMPLE}:latest`;
const EXAMPLES = join(ROOT, 'examples', 'advisories');
let dir: string;
let good: string;

/** One line per error, `portcullis: CODE: ...`, and nothing that looks like a stack trace. */
function expectOneLineError(stderr: string, code: string): void {
  const lines = stderr.trim().split('\n');
  expect(lines[0]).toMatch(new RegExp(`^portcullis: ${code}: `));
  expect(stderr).not.toMatch(/\n\s+at /);
}

function osv(id: string, ecosystem: string, name: string, fixed: string): string {
  return JSON.stringify({
    id,
    modified: '2024-01-01T00:00:00Z',
    affected: [
      { package: { ecosystem, name }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed }] }] },
    ],
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'adv-hostile-'));
  good = join(dir, 'good.db');
  expect((await runCli(['db', 'import', EXAMPLES, '--db', good, '-q'])).code).toBe(0);
});

/** The first line `db status` prints for a database it refuses. */
function foreignStatus(db: string): string {
  const r = spawnSync(process.execPath, [CLI, 'db', 'status', '--db', db], { encoding: 'utf8' });
  return r.stderr.split('\n')[0] ?? '';
}

describe('hostile advisory data', () => {
  it('imports the good records of a directory and reports each bad file, never crashing', async () => {
    const data = join(dir, 'data');
    mkdirSync(data);
    copyFileSync(join(EXAMPLES, 'GHSA-35jh-r3h4-6jhm.json'), join(data, 'lodash.json'));
    writeFileSync(join(data, 'broken.json'), '{"id": "X-1", "affected": [');
    writeFileSync(join(data, 'no-affected.json'), JSON.stringify({ id: 'X-2', modified: 'x', affected: 'nope' }));
    writeFileSync(join(data, 'deep.json'), `${'['.repeat(200_000)}${']'.repeat(200_000)}`);
    writeFileSync(join(data, 'unknown-ecosystem.json'), osv('X-3', 'Bogus', 'thing', '1.0'));
    // A real package of the example image, with a fixed version npm's semver cannot read.
    writeFileSync(join(data, 'bad-version.json'), osv('X-4', 'npm', 'minimist', 'not@@a-version'));
    const db = join(dir, 'mixed.db');
    const r = await runCli(['db', 'import', data, '--db', db, '-q']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/refused .*broken\.json: not valid JSON/);
    expect(r.stderr).toMatch(/refused .*no-affected\.json: X-2/);
    expect(r.stderr).toContain('ecosystems with no version scheme, stored but never matched: Bogus (1)');
    // deep.json parses (V8's JSON.parse is not recursive) and is simply no advisory format.
    expect(r.stderr).toMatch(/3 records from 6 files, 2 refused, 1 not advisory data/);
    const status = JSON.parse((await runCli(['db', 'status', '--db', db, '-f', 'json'])).stdout);
    expect(status.advisories).toBe(3);

    // The unreadable version is reported as a warning naming the advisory; the rest is matched as usual.
    const scan = await runCli(['scan', IMAGE, '--db', db, '-f', 'json', '-q']);
    expect(scan.code).toBe(0);
    expect(scan.stderr).toMatch(/minimist.*X-4.*not@@a-version/);
    const ids = (JSON.parse(scan.stdout).findings as { ruleId: string }[]).map((f) => f.ruleId);
    expect(ids).toContain('CVE-2021-23337');
    expect(ids).not.toContain('X-4');
  });

  it('refuses a corrupt, truncated or foreign database file in one line, and an import leaves it as it was', async () => {
    const garbage = join(dir, 'garbage.db');
    writeFileSync(garbage, Buffer.alloc(64 * 1024, 0x5a));
    const truncated = join(dir, 'truncated.db');
    writeFileSync(truncated, readFileSync(good).subarray(0, 8192));
    const foreign = join(dir, 'foreign.db');
    const f = new Database(foreign);
    f.exec("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT); INSERT INTO meta VALUES ('schema_version', '999')");
    f.close();
    const other = join(dir, 'other.db');
    new Database(other).exec('CREATE TABLE t (x)');

    for (const db of [garbage, truncated, foreign, other]) {
      const scan = await runCli(['scan', IMAGE, '--db', db, '-q']);
      expect(scan.code, `${db}: ${scan.stderr}`).toBe(2);
      expectOneLineError(scan.stderr, 'CONFIG_INVALID');
      expect(scan.stderr).toContain(db);
      const status = await runCli(['db', 'status', '--db', db]);
      expect(status.code).toBe(2);
      expectOneLineError(status.stderr, 'CONFIG_INVALID');

      const before = readFileSync(db);
      const imp = await runCli(['db', 'import', EXAMPLES, '--db', db, '-q']);
      expect(imp.code).toBe(2);
      expectOneLineError(imp.stderr, 'CONFIG_INVALID');
      expect(readFileSync(db).equals(before)).toBe(true);
    }
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    expect(existsSync(good)).toBe(true);

    // The way out the messages name: --rebuild builds a new database from the given data and replaces the file.
    expect(foreignStatus(foreign)).toMatch(/database schema 999, this Portcullis reads \d+; rebuild it/);
    for (const db of [garbage, truncated, foreign, other]) {
      const rebuilt = await runCli(['db', 'import', EXAMPLES, '--db', db, '--rebuild', '-q']);
      expect(rebuilt.code, rebuilt.stderr).toBe(0);
      expect(JSON.parse((await runCli(['db', 'status', '--db', db, '-f', 'json'])).stdout).advisories).toBe(14);
    }
  });

  it('reads a file given as a pipe (/dev/stdin, <(...)) whole, and bounds it', async () => {
    // A record larger than a pipe holds at once (64 KiB): a read that returns less is not the end of a pipe.
    const doc = JSON.parse(osv('X-PIPE', 'npm', 'piped', '1.0.0'));
    doc.details = 'x'.repeat(300 * 1024);
    const db = join(dir, 'piped.db');
    const record = join(dir, 'piped.json');
    writeFileSync(record, JSON.stringify(doc));
    // Through a shell pipe, as `curl ... | portcullis db import /dev/stdin` gives it.
    const piped = 'cat "$1" | "$0" "$2" db import /dev/stdin --db "$3" -q';
    const r = spawnSync('sh', ['-c', piped, process.execPath, record, CLI, db], { encoding: 'utf8' });
    expect(r.stderr).not.toMatch(/refused/);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/1 records from 1 files/);
    // A device that never ends is refused at the size limit, not read until memory runs out.
    const zero = spawnSync(process.execPath, [CLI, 'db', 'import', '/dev/zero', '--db', db, '-q'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(zero.status, zero.stderr).toBe(2);
    expect(zero.stderr).toMatch(/^portcullis: warning: refused \/dev\/zero: more than the \d+-byte limit$/m);
    expect(zero.stderr).toMatch(/^portcullis: NOT_FOUND: \/dev\/zero: no advisory records/m);
  });

  it('refuses a database damaged past the pages an import reads first in one line, leaving it as it was', async () => {
    // Enough records for the tables to span many pages: damage in one leaf is met only when that leaf is read.
    const data = join(dir, 'many');
    mkdirSync(data);
    for (let i = 0; i < 2000; i++) {
      writeFileSync(join(data, `GHSA-${i}.json`), osv(`GHSA-many-${i}`, 'npm', `pkg-${i}-${'x'.repeat(200)}`, '1.0.0'));
    }
    const built = join(dir, 'many.db');
    expect((await runCli(['db', 'import', data, '--db', built, '-q'])).code).toBe(0);
    const meta = new Database(built, { readonly: true });
    const pageSize = meta.pragma('page_size', { simple: true }) as number;
    const pageOf = (sql: string) => (meta.prepare(sql).get() as { n: number }).n;
    const damage = {
      // The sources table, written at the end of an import.
      sources: pageOf("SELECT rootpage AS n FROM sqlite_master WHERE name = 'sources'"),
      // The first leaf of affected: not on the path to its last row, which an import reads when it starts.
      affected: pageOf("SELECT min(pageno) AS n FROM dbstat WHERE name = 'affected' AND pagetype = 'leaf'"),
    };
    meta.close();
    for (const [what, page] of Object.entries(damage)) {
      const db = join(dir, `damaged-${what}.db`);
      const bytes = readFileSync(built);
      bytes.fill(0x5a, (page - 1) * pageSize, page * pageSize);
      writeFileSync(db, bytes);
      const imp = await runCli(['db', 'import', EXAMPLES, '--db', db, '-q']);
      expect(imp.code, `${what}: ${imp.stderr}`).toBe(2);
      // After the line counting what was read, the one line of the refusal: no stack, no internal error.
      expect(imp.stderr).toMatch(
        new RegExp(`^portcullis: CONFIG_INVALID: ${db}: the advisory database is damaged`, 'm'),
      );
      expect(imp.stderr).not.toMatch(/internal error|\n\s+at /);
      expect(readFileSync(db).equals(bytes)).toBe(true);
    }
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('refuses values nested too deep to print where a string belongs, and imports the rest', async () => {
    const data = join(dir, 'nested');
    mkdirSync(data);
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    copyFileSync(join(EXAMPLES, 'GHSA-35jh-r3h4-6jhm.json'), join(data, 'lodash.json'));
    // Where a secfix id (a string) belongs, and where a range type (a string) belongs.
    writeFileSync(
      join(data, 'secdb.json'),
      `{"distroversion":"v3.20","reponame":"main","packages":[{"pkg":{"name":"zlib","secfixes":{"1.0":[${deep},"CVE-2024-1"]}}}]}`,
    );
    writeFileSync(
      join(data, 'osv.json'),
      `{"id":"X-DEEP","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"a"},"ranges":[{"type":${deep},"events":[]}]}]}`,
    );
    const db = join(dir, 'nested.db');
    const r = await runCli(['db', 'import', data, '--db', db, '-q']);
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/refused .*osv\.json: X-DEEP: affected\[0\]\.ranges\[0\] has unknown type/);
    expect(r.stderr).toMatch(/2 records from 3 files, 1 refused/);
  });

  it('refuses a path that holds no advisories, leaving the database (and its data age) as it was', async () => {
    // An empty mount point, a mistyped directory, files that are all refused: nothing to import is no success.
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    const refused = join(dir, 'all-refused');
    mkdirSync(refused);
    writeFileSync(join(refused, 'broken.json'), '{"id": "X-1", "affected": [');
    const db = join(dir, 'kept.db');
    copyFileSync(good, db);
    const before = readFileSync(db);
    for (const args of [[empty, '--rebuild'], [empty], [refused]]) {
      const r = await runCli(['db', 'import', ...args, '--db', db, '-q']);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`^portcullis: NOT_FOUND: ${args[0]}: no advisory records`, 'm'));
      expect(readFileSync(db).equals(before)).toBe(true);
    }
  });

  it('takes a database dated in the future for one of unknown age: --max-db-age refuses it, with why', async () => {
    const db = join(dir, 'future.db');
    copyFileSync(good, db);
    const raw = new Database(db);
    raw.prepare("UPDATE meta SET value = '2999-01-01T00:00:00.000Z' WHERE key = 'updated_at'").run();
    raw.close();
    const r = await runCli(['scan', IMAGE, '--db', db, '-q', '--max-db-age', '3650d']);
    expect(r.code, r.stderr).toBe(2);
    expectOneLineError(r.stderr, 'CONFIG_INVALID');
    expect(r.stderr).toContain('dated 2999-01-01T00:00:00.000Z, in the future');
    expect(r.stderr).toContain('refused by --max-db-age 3650d');
    const warned = await runCli(['scan', IMAGE, '--db', db, '-q', '-f', 'json']);
    expect(warned.code, warned.stderr).toBe(0);
    expect(warned.stderr).toMatch(
      /warning: the advisory database was dated 2999-.*in the future.*portcullis db update/,
    );
  });

  it('takes a database whose update time cannot be read for one never updated: --max-db-age refuses it', async () => {
    const db = join(dir, 'undated.db');
    copyFileSync(good, db);
    const raw = new Database(db);
    raw.prepare("UPDATE meta SET value = 'not a date' WHERE key = 'updated_at'").run();
    raw.close();
    const r = await runCli(['scan', IMAGE, '--db', db, '-q', '--max-db-age', '3650d']);
    expect(r.code, r.stderr).toBe(2);
    expectOneLineError(r.stderr, 'CONFIG_INVALID');
    expect(r.stderr).toContain('last updated not a date: refused by --max-db-age 3650d');
    const warned = await runCli(['scan', IMAGE, '--db', db, '-q', '-f', 'json']);
    expect(warned.stderr).toMatch(/warning: the advisory database was last updated .*run 'portcullis db update'/);
  });

  it('prints refusals one line each, whatever control characters the record ids and file names hold', async () => {
    const data = join(dir, 'forged');
    mkdirSync(data);
    copyFileSync(join(EXAMPLES, 'GHSA-35jh-r3h4-6jhm.json'), join(data, 'lodash.json'));
    // An id and a file name that would print a forged line of their own and a terminal escape.
    const forged = 'imported 999 records into elsewhere.db in 0.1 s';
    writeFileSync(join(data, 'a.json'), JSON.stringify({ id: `X-1\n${forged}\u001b[2K`, affected: [] }));
    writeFileSync(join(data, `b\n${forged}.json`), '{');
    const r = await runCli(['db', 'import', data, '--db', join(dir, 'forged.db'), '-q']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines.filter((l) => l.startsWith(forged))).toEqual([]);
    expect(lines.filter((l) => l.includes('refused'))).toHaveLength(3);
    expect(r.stderr).not.toMatch(/\u001b/);
  });

  it('refuses a record that would store its advisory text thousands of times over, and imports the rest', async () => {
    // Each affected row repeats the advisory as JSON: 1,000 long aliases and 10,000 affected packages make a
    // 0.7 MB record write 1 GB.
    const data = join(dir, 'amplified');
    mkdirSync(data);
    copyFileSync(join(EXAMPLES, 'GHSA-35jh-r3h4-6jhm.json'), join(data, 'lodash.json'));
    const aliases = Array.from({ length: 1000 }, (_, i) => `CVE-${String(i).padStart(4, '0')}-${'9'.repeat(90)}`);
    const affected = Array.from({ length: 10_000 }, (_, i) => ({ package: { ecosystem: 'npm', name: `p${i}` } }));
    writeFileSync(
      join(data, 'amp.json'),
      JSON.stringify({ id: 'GHSA-amp', modified: '2024-01-01T00:00:00Z', aliases, affected }),
    );
    const db = join(dir, 'amplified.db');
    const r = await runCli(['db', 'import', data, '--db', db, '-q']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/refused .*amp\.json: GHSA-amp: .*10000 affected packages/);
    expect(r.stderr).toMatch(/1 records from 2 files, 1 refused/);
    expect(statSync(db).size).toBeLessThan(16 * 1024 * 1024);
  });

  it('db status prints the source names and times that records carry one line each, without their escapes', async () => {
    const data = join(dir, 'status-escapes');
    mkdirSync(data);
    // The source name comes from the id's prefix, the newest time from `modified`: both as the record gives them.
    writeFileSync(
      join(data, 'a.json'),
      JSON.stringify({
        id: 'EVIL\u001b[31m\nFAKE-1',
        modified: '2024-01-01T00:00:00Z\u001b[2J',
        affected: [{ package: { ecosystem: 'npm', name: 'a' }, versions: ['1'] }],
      }),
    );
    const db = join(dir, 'status-escapes.db');
    expect((await runCli(['db', 'import', data, '--db', db, '-q'])).code).toBe(0);
    const r = await runCli(['db', 'status', '--db', db]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/\u001b/);
    // Database, Updated, Advisories, a blank line, the header, the rule and one row.
    expect(r.stdout.trimEnd().split('\n')).toHaveLength(7);
  });
});
