import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { walkDirectory } from '../../src/image/dirwalk.js';
import { type LayerInput, walkLayers } from '../../src/image/walk.js';
import { catalogTree } from '../../src/inventory/build.js';
import { javaCataloger } from '../../src/inventory/catalogers/java.js';
import type { Package } from '../../src/inventory/model.js';
import { makeTar } from '../helpers/layers.js';
import { CACHE } from '../helpers/paths.js';

/**
 * The Java cataloger over real Maven Central artifacts and real fat jars, WARs and EARs built from them with
 * the JDK's jar tool, run through the real walks (a directory, and tar layers cut into odd chunks). The
 * expected packages come from Info-ZIP unzip reading the same archives: their pom.properties, and for an
 * archive without one, its MANIFEST.MF.
 */

const JARS = ['log4j-core-2.14.1.jar', 'jackson-databind-2.13.0.jar', 'commons-lang3-3.12.0.jar', 'activation-1.1.jar'];
let work: string;
let extracted = 0;
let rootfs: string;
/** Image paths of the archives, in the layer that writes them. */
const LAYER0 = JARS.map((j) => `opt/app/lib/${j}`);
const LAYER1 = [
  'opt/app/boot.jar',
  'opt/app/fat-deflated.jar',
  'opt/app/exec.jar',
  'srv/app.war',
  'srv/app.ear',
  'srv/plugins/tool.hpi',
];
/** A layer-1 whiteout removes this layer-0 jar: it must not be reported from the layers. */
const WHITED_OUT = 'opt/app/lib/activation-1.1.jar';

function run(cmd: string, args: string[], cwd?: string): Buffer {
  return execFileSync(cmd, args, { cwd, maxBuffer: 1 << 28 });
}

/** `unzip` that tolerates exit status 1 (a warning, e.g. for bytes before the archive). */
function unzip(args: string[]): Buffer {
  const r = spawnSync('unzip', args, { maxBuffer: 1 << 28 });
  if (r.status !== 0 && r.status !== 1) throw new Error(`unzip ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

interface Expected {
  readonly purl: string;
  readonly path: string;
  readonly licenses: readonly string[];
}

/** Unfolded main-section header of a manifest, read the simple way (the oracle must not share our parser). */
function header(manifest: string, name: string): string | undefined {
  const unfolded = manifest.replace(/\r?\n /g, '');
  const m = new RegExp(`^${name}: (.*?)\\r?$`, 'im').exec(unfolded.split(/\r?\n\r?\n/)[0] ?? '');
  return m?.[1];
}

/** What unzip says is in `file` (shown as `display`), nested archives included. */
function oracle(file: string, display: string, out: Expected[]): void {
  const names = unzip(['-Z1', file]).toString('utf8').split('\n').filter(Boolean);
  const manifest = names.includes('META-INF/MANIFEST.MF') ? unzip(['-p', file, 'META-INF/MANIFEST.MF']).toString() : '';
  const license = header(manifest, 'Bundle-License');
  const poms = names.filter((n) => /^META-INF\/maven\/[^/]+\/[^/]+\/pom\.properties$/.test(n));
  // The fixtures hold one pom.properties per archive, so it is the archive's own and carries its licence.
  expect(poms.length, display).toBeLessThanOrEqual(1);
  for (const pom of poms) {
    const text = unzip(['-p', file, pom]).toString('latin1');
    const prop = (k: string): string => (new RegExp(`^${k}=(.*?)\\r?$`, 'm').exec(text)?.[1] ?? '').trim();
    out.push({
      purl: `pkg:maven/${prop('groupId')}/${prop('artifactId')}@${prop('version')}`,
      path: display,
      licenses: license ? [license] : [],
    });
  }
  const version = header(manifest, 'Implementation-Version');
  if (poms.length === 0 && version) {
    // Named by the file name; a Maven group only where the manifest states one (Jenkins plugins' Group-Id),
    // else the artifactId stands in for it, as syft writes such purls.
    const name = basename(display)
      .replace(/-\d.*$/, '')
      .replace(/\.[a-z]+$/, '');
    const group = header(manifest, 'Group-Id') ?? name;
    out.push({ purl: `pkg:maven/${group}/${name}@${version}`, path: display, licenses: license ? [license] : [] });
  }
  for (const n of names.filter((x) => /\.(?:jar|war|ear|hpi|jpi)$/.test(x))) {
    const inner = join(work, `nested-${++extracted}-${basename(n)}`);
    writeFileSync(inner, unzip(['-p', file, n]));
    oracle(inner, `${display}!/${n}`, out);
  }
}

const key = (p: { purl: string; path: string; licenses: readonly string[] }): string =>
  `${p.purl} @ ${p.path} [${p.licenses.join(',')}]`;
const ours = (pkgs: readonly Package[]): string[] =>
  pkgs.map((p) => key({ purl: p.purl, path: p.locations[0]?.path ?? '', licenses: p.licenses })).sort();

beforeAll(() => {
  const cache = join(CACHE, 'java');
  for (const j of JARS) {
    if (!existsSync(join(cache, j))) throw new Error(`${join(cache, j)} is missing: run 'npm run setup' first`);
  }
  work = mkdtempSync(join(tmpdir(), 'portcullis-java-'));
  rootfs = join(work, 'rootfs');
  mkdirSync(join(rootfs, 'opt/app/lib'), { recursive: true });
  mkdirSync(join(rootfs, 'srv/plugins'), { recursive: true });
  for (const j of JARS) copyFileSync(join(cache, j), join(rootfs, 'opt/app/lib', j));

  // A Spring Boot layout: the application's own classes and pom.properties, its dependencies in BOOT-INF/lib.
  const boot = join(work, 'boot');
  mkdirSync(join(boot, 'BOOT-INF/lib'), { recursive: true });
  mkdirSync(join(boot, 'BOOT-INF/classes/com/example'), { recursive: true });
  mkdirSync(join(boot, 'META-INF/maven/com.example/demo'), { recursive: true });
  writeFileSync(join(boot, 'BOOT-INF/classes/com/example/App.class'), Buffer.alloc(300, 0xca));
  writeFileSync(
    join(boot, 'META-INF/maven/com.example/demo/pom.properties'),
    'artifactId=demo\ngroupId=com.example\nversion=0.0.1-SNAPSHOT\n',
  );
  for (const j of JARS.slice(0, 3)) copyFileSync(join(cache, j), join(boot, 'BOOT-INF/lib', j));
  const bootJar = join(rootfs, 'opt/app/boot.jar');
  // Spring Boot stores nested jars uncompressed; the deflated variant exercises nested bit-3 inflation.
  run('jar', ['--create', '--no-compress', '--file', bootJar, '-C', boot, '.']);
  run('jar', ['--create', '--file', join(rootfs, 'opt/app/fat-deflated.jar'), '-C', boot, '.']);
  const script = Buffer.from('#!/bin/bash\n# launch script of a fully executable jar\nexec java -jar "$0" "$@"\n');
  writeFileSync(join(rootfs, 'opt/app/exec.jar'), Buffer.concat([script, readFileSync(bootJar)]));

  // A WAR with WEB-INF/lib, and an EAR holding the WAR and a library: archives two levels deep.
  const war = join(work, 'war');
  mkdirSync(join(war, 'WEB-INF/lib'), { recursive: true });
  writeFileSync(join(war, 'index.html'), '<p>hello</p>\n');
  for (const j of [JARS[1], JARS[3]] as string[]) copyFileSync(join(cache, j), join(war, 'WEB-INF/lib', j));
  run('jar', ['--create', '--file', join(rootfs, 'srv/app.war'), '-C', war, '.']);
  const ear = join(work, 'ear');
  mkdirSync(join(ear, 'lib'), { recursive: true });
  copyFileSync(join(rootfs, 'srv/app.war'), join(ear, 'app.war'));
  copyFileSync(join(cache, JARS[2] as string), join(ear, 'lib', JARS[2] as string));
  run('jar', ['--create', '--file', join(rootfs, 'srv/app.ear'), '-C', ear, '.']);

  // A Jenkins plugin is named by its manifest (Group-Id, Short-Name, Plugin-Version) and bundles its jars.
  const hpi = join(work, 'hpi');
  mkdirSync(join(hpi, 'WEB-INF/lib'), { recursive: true });
  copyFileSync(join(cache, JARS[2] as string), join(hpi, 'WEB-INF/lib', JARS[2] as string));
  const mf = join(work, 'hpi.mf');
  writeFileSync(
    mf,
    'Group-Id: org.example.plugins\nShort-Name: tool\nPlugin-Version: 2.1\nImplementation-Version: 2.1\n',
  );
  run('jar', ['--create', '--file', join(rootfs, 'srv/plugins/tool.hpi'), '--manifest', mf, '-C', hpi, '.']);
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

function expectedFor(paths: readonly string[]): string[] {
  const out: Expected[] = [];
  for (const p of paths) oracle(join(rootfs, p), p, out);
  return out.map(key).sort();
}

describe('Java cataloger against unzip over real Maven Central jars', () => {
  it('walkDirectory: every pom.properties at every nesting level, with its location and licence', async () => {
    const { tree } = await walkDirectory(rootfs, [javaCataloger]);
    const inv = catalogTree(tree, [javaCataloger]);
    expect(inv.unknowns).toEqual([]);
    const want = expectedFor([...LAYER0, ...LAYER1]);
    expect(want.length).toBeGreaterThan(20);
    // The hand-known anchors the oracle must have found, so an empty oracle cannot pass.
    expect(want).toContain(
      'pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1 @ opt/app/boot.jar!/BOOT-INF/lib/log4j-core-2.14.1.jar [https://www.apache.org/licenses/LICENSE-2.0.txt]',
    );
    expect(want.some((k) => k.includes('srv/app.ear!/app.war!/WEB-INF/lib/jackson-databind-2.13.0.jar'))).toBe(true);
    expect(ours(inv.packages)).toEqual(want);
    expect(inv.packages.every((p) => p.layer === 0 && p.type === 'maven' && p.foundBy === 'java')).toBe(true);
    const hpi = inv.packages.find((p) => p.locations[0]?.path === 'srv/plugins/tool.hpi');
    expect(hpi?.purl).toBe('pkg:maven/org.example.plugins/tool@2.1');
  });

  it('walkLayers: the same packages from tar layers read in odd-sized chunks, each in the layer that wrote it', async () => {
    const file = (p: string) => ({ path: p, content: readFileSync(join(rootfs, p)) });
    const layer0 = await makeTar(LAYER0.map(file));
    const layer1 = await makeTar([
      ...LAYER1.map(file),
      { path: `opt/app/lib/.wh.${basename(WHITED_OUT)}`, content: '' },
    ]);
    let seed = 7;
    const chunks = (buf: Buffer): Buffer[] => {
      const out: Buffer[] = [];
      for (let i = 0; i < buf.length; ) {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        const n = 1 + (seed % 5 === 0 ? seed % 31 : seed % 300_000);
        out.push(buf.subarray(i, i + n));
        i += n;
      }
      return out;
    };
    const input = (index: number, tar: Buffer): LayerInput => ({
      index,
      where: `layer ${index}`,
      compression: 'none',
      open: async () => Readable.from(chunks(tar), { objectMode: false }),
    });
    const { tree } = await walkLayers([input(0, layer0), input(1, layer1)], [javaCataloger]);
    const inv = catalogTree(tree, [javaCataloger]);
    expect(inv.unknowns).toEqual([]);
    const present = [...LAYER0.filter((p) => p !== WHITED_OUT), ...LAYER1];
    expect(ours(inv.packages)).toEqual(expectedFor(present));
    for (const p of inv.packages) {
      const outer = (p.locations[0]?.path ?? '').split('!/')[0] as string;
      expect(p.layer, outer).toBe(LAYER0.includes(outer) ? 0 : 1);
      expect(p.locations[0]?.layer).toBe(p.layer);
    }
  });

  it('records a broken archive as a non-fatal unknown and keeps the packages of the others', async () => {
    const broken = join(work, 'broken');
    mkdirSync(join(broken, 'lib'), { recursive: true });
    copyFileSync(join(rootfs, 'opt/app/lib', JARS[2] as string), join(broken, 'lib', JARS[2] as string));
    const real = readFileSync(join(rootfs, 'opt/app/lib', JARS[0] as string));
    writeFileSync(join(broken, 'lib/truncated.jar'), real.subarray(0, real.length >> 1));
    writeFileSync(join(broken, 'lib/notes.jar'), 'this is not a zip\n');
    const { tree } = await walkDirectory(broken, [javaCataloger]);
    const inv = catalogTree(tree, [javaCataloger]);
    expect(inv.packages.map((p) => p.purl)).toContain('pkg:maven/org.apache.commons/commons-lang3@3.12.0');
    expect(inv.unknowns.map((u) => [u.path, u.fatal, u.cataloger]).sort()).toEqual([
      ['lib/notes.jar', false, 'java'],
      ['lib/truncated.jar', false, 'java'],
    ]);
  });
});
