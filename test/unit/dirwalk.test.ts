import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { Collector } from '../../src/image/collect.js';
import { walkDirectory } from '../../src/image/dirwalk.js';
import type { FileTree } from '../../src/image/filetree.js';
import { walkLayers } from '../../src/image/walk.js';
import { catalogTree, collectorsFor } from '../../src/inventory/build.js';
import { npmCataloger } from '../../src/inventory/catalogers/npm.js';
import { digestOf } from '../../src/oci/digest.js';
import { CLI, ROOT } from '../helpers/paths.js';

/** A path as bytes: `\xNN` in `p` is the byte NN (so names that are not valid UTF-8 can be spelled). */
function bytes(...parts: string[]): Buffer {
  return Buffer.from(
    parts.join('/').replace(/\\x([0-9a-f]{2})/g, (_, h) => String.fromCharCode(Number.parseInt(h, 16))),
    'latin1',
  );
}

function write(root: string, path: string, content: string): void {
  const p = bytes(root, path);
  mkdirSync(p.subarray(0, p.lastIndexOf(0x2f)), { recursive: true });
  writeFileSync(p, content);
}

/** Every path of a tree, with its type and link target. */
function listing(tree: FileTree): string[] {
  return [...tree.nodes()]
    .map((n) => `${n.info.type} ${n.info.path}${n.info.linkname ? ` -> ${n.info.linkname}` : ''}`)
    .sort();
}

describe('walkDirectory: names that are not valid UTF-8', () => {
  it('walks them, named as the tar reader names the same bytes in a layer', async () => {
    const root = mkdtempSync(join(tmpdir(), 'dirwalk-'));
    write(root, 'app/package.json', '{"name":"app","version":"1.0.0","dependencies":{"lodash":"*"}}');
    write(root, 'app/node_modules/lodash/package.json', '{"name":"lodash","version":"4.17.20"}');
    write(root, 'app\\xff/package.json', '{"name":"app","version":"1.0.0","dependencies":{"lodash":"*"}}');
    write(root, 'app\\xff/node_modules/lodash/package.json', '{"name":"lodash","version":"4.17.15"}');
    write(root, 'caf\\xe9/\\xc3\\xa9t\\xc3\\xa9', 'UTF-8 in a latin-1 directory');
    write(root, 'caf\\xe9/\\xc3\\xa9t\\xe9', 'UTF-8 and latin-1 in one name');
    write(root, 'caf\\xc3\\xa9/\\xc3\\xa9t\\xc3\\xa9', 'all UTF-8');
    symlinkSync(bytes('app\\xff/package.json'), bytes(root, 'link\\xfe'));

    const { tree } = await walkDirectory(root, collectorsFor([npmCataloger]));
    const { packages } = catalogTree(tree, [npmCataloger]);
    expect(packages.map((p) => `${p.name}@${p.version} ${p.locations[0]?.path}`).sort()).toEqual([
      'lodash@4.17.15 app\udcff/node_modules/lodash/package.json',
      'lodash@4.17.20 app/node_modules/lodash/package.json',
    ]);

    // The same directory as a layer, written by GNU tar (the bytes of each name as they are on disk).
    const layer = execFileSync('tar', ['-C', root, '--format=gnu', '-cf', '-', '.']);
    const fromTar = await walkLayers(
      [
        {
          index: 0,
          where: 'layer 0',
          diffId: digestOf(layer),
          compression: 'none',
          open: async () => Readable.from([layer]),
        },
      ],
      [],
    );
    expect(listing(tree)).toContain('symlink link\udcfe -> app\udcff/package.json');
    // One invalid byte on a path and every byte over 0x7f of it is a lone surrogate, valid UTF-8 or not (as in tar).
    expect(listing(tree)).toContain('file caf\udce9/\udcc3\udca9t\udcc3\udca9');
    expect(listing(tree)).toContain('file caf\udce9/\udcc3\udca9t\udce9');
    expect(listing(tree)).toContain('file café/été');
    expect(listing(tree)).toEqual(listing(fromTar.tree));
  });

  it('skips a file or directory that vanishes during the walk, valid UTF-8 or not', async () => {
    const root = mkdtempSync(join(tmpdir(), 'dirwalk-'));
    for (const p of ['a', 'b', 'c\\xff', 'd/x', 'e\\xfe/x', 'f/x']) write(root, p, p);
    // A real race: files vanish between readdir and lstat, directories between lstat and readdir. The root is read
    // in name order, then its directories last first: `a` is seen before `b`, `f/x` before `d` and `e\xfe` are read.
    const deleter: Collector = {
      name: 'deleter',
      wants(info) {
        if (info.path === 'a') for (const p of ['b', 'c\\xff']) unlinkSync(bytes(root, p));
        if (info.path === 'f/x') for (const p of ['d', 'e\\xfe']) rmSync(bytes(root, p), { recursive: true });
        return undefined;
      },
    };
    const { tree } = await walkDirectory(root, [deleter]);
    expect(listing(tree)).toEqual(['dir d', 'dir e\udcfe', 'dir f', 'file a', 'file f/x']);
  });
});

describe('dir: files and directories the user cannot read', () => {
  // Root reads a mode-000 file anyway: as root, the CLI runs as nobody (uid 65534) under setpriv.
  const asUser = process.getuid?.() === 0 ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] : [];

  function sbom(root: string): { code: number | null; stderr: string } {
    const [cmd, ...args] = [...asUser, process.execPath, CLI, 'sbom', `dir:${root}`, '-q', '-f', 'json'];
    const r = spawnSync(cmd as string, args, { encoding: 'utf8' });
    return { code: r.status, stderr: r.stderr };
  }

  function alpine(): string {
    const root = mkdtempSync(join(tmpdir(), 'dirwalk-'));
    cpSync(join(ROOT, 'test', 'fixtures', 'apk', 'alpine-3.19'), root, { recursive: true });
    execFileSync('chmod', ['-R', 'a+rX', root]);
    return root;
  }

  it('a wanted file it cannot read is bad input naming the file, as a directory it cannot read is', () => {
    const root = alpine();
    expect(sbom(root)).toEqual({ code: 0, stderr: '' });
    chmodSync(join(root, 'lib/apk/db/installed'), 0o000);
    expect(sbom(root)).toEqual({
      code: 2,
      stderr: `portcullis: NOT_FOUND: dir: cannot read ${root}/lib/apk/db/installed (EACCES)\n  hint: Check that the file, directory, tag or digest exists.\n`,
    });
    chmodSync(join(root, 'lib/apk/db/installed'), 0o644);
    chmodSync(join(root, 'lib/apk/db'), 0o000);
    expect(sbom(root)).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('dir: cannot read lib/apk/db (EACCES)'),
    });
  });
});
