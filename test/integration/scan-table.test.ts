import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { ROOT } from '../helpers/paths.js';

/**
 * The table `scan` prints is read on terminals and in CI logs: text that comes from the image (package names and
 * versions, os-release) must reach them with no control characters, which could rewrite or erase what was printed
 * before (a critical finding's row).
 */

let work: string;
let db: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'scan-table-'));
  db = join(work, 'advisories.db');
  const r = await runCli(['db', 'import', join(ROOT, 'examples', 'advisories'), '--db', db, '-q']);
  expect(r.code, r.stderr).toBe(0);
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('scan table', () => {
  it('prints no control characters from the image', async () => {
    const root = join(work, 'root');
    mkdirSync(join(root, 'etc'), { recursive: true });
    mkdirSync(join(root, 'var', 'lib', 'dpkg'), { recursive: true });
    mkdirSync(join(root, 'app', 'node_modules', 'widget'), { recursive: true });
    writeFileSync(
      join(root, 'etc', 'os-release'),
      'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian\x1b[1A\x1b[2K 12"\n',
    );
    // A binary package of openssl whose name moves the cursor up and erases lines.
    writeFileSync(
      join(root, 'var', 'lib', 'dpkg', 'status'),
      'Package: libssl3\x1b[1A\x1b[2K\nStatus: install ok installed\nArchitecture: amd64\nSource: openssl\nVersion: 3.0.9-1\n\n',
    );
    // A version no scheme reads is warned about, quoting it.
    writeFileSync(
      join(root, 'app', 'node_modules', 'widget', 'package.json'),
      JSON.stringify({ name: 'widget', version: '1.0.0\x1b[1A\x1b[2K' }),
    );
    const r = await runCli(['scan', '--db', db, '-q', `dir:${root}`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/CVE-2023-2975/);
    expect(r.stderr).toMatch(/cannot read the installed version/);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: what is looked for
    const control = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;
    expect(r.stdout).not.toMatch(control);
    expect(r.stderr).not.toMatch(control);
  });

  it('says how many matcher warnings it left out', async () => {
    const root = join(work, 'many');
    for (let i = 0; i < 25; i++) {
      const dir = join(root, 'app', 'node_modules', `pkg${i}`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `pkg${i}`, version: 'not-a-version' }));
    }
    const r = await runCli(['scan', '--db', db, '-q', `dir:${root}`]);
    expect(r.code, r.stderr).toBe(0);
    const unread = r.stderr.split('\n').filter((l) => l.includes('cannot read the installed version'));
    expect(unread).toHaveLength(20);
    // The 5 left out are counted, not dropped in silence: each is a package that was never matched.
    expect(r.stderr).toMatch(/… and 5 more matcher warnings/);
  });
});
