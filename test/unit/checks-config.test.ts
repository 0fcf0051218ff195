import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseChecksConfig, parseIgnoreFile } from '../../src/checks/config.js';
import { DEFAULT_SETTINGS } from '../../src/checks/settings.js';
import { applyIgnores } from '../../src/checks/suppress.js';
import { PortcullisError } from '../../src/errors.js';
import type { Finding } from '../../src/findings/finding.js';
import { compilePathGlob } from '../../src/util/pathglob.js';
import { ROOT } from '../helpers/paths.js';

const CHECKS_HEAD = 'apiVersion: portcullis.dev/v1alpha1\nkind: CheckSettings\n';
const IGNORE_HEAD = 'apiVersion: portcullis.dev/v1alpha1\nkind: IgnoreList\n';

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PortcullisError);
    expect((err as PortcullisError).code).toBe('CONFIG_INVALID');
    return (err as Error).message;
  }
  throw new Error('expected CONFIG_INVALID');
}

function finding(ruleId: string, path?: string, extra: Partial<Finding> = {}): Finding {
  return {
    ruleId,
    kind: 'misconfiguration',
    severity: 'low',
    confidence: 'high',
    title: ruleId,
    message: ruleId,
    location: { kind: 'image', image: 'oci:x', ...(path ? { path } : {}) },
    ...extra,
  };
}

describe('check settings file', () => {
  it('the schemas are draft-07 with an $id, and Ajv compiles them strictly', () => {
    for (const name of ['checks', 'ignore']) {
      const schema = JSON.parse(readFileSync(join(ROOT, 'schemas', `${name}.schema.json`), 'utf8'));
      expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
      expect(schema.$id).toMatch(/^https:\/\//);
      expect(() => new Ajv({ strict: true, strictRequired: false }).compile(schema)).not.toThrow();
    }
  });

  it('reads the example, with sizes and ages in their units', () => {
    const s = parseChecksConfig(readFileSync(join(ROOT, 'examples/checks/checks.yaml'), 'utf8'), 'checks.yaml');
    expect(s.unnecessaryPackages).toContain('openssh-server');
    expect(s.maxImageAgeDays).toBe(90);
    expect(s.approvedRegistries).toEqual(['registry.example.com/base']);
    expect(s.secrets.maxFileBytes).toBe(10 * 1024 * 1024);
    expect(s.secrets.skipPaths).toEqual(['srv/app/fixtures/**']);
    expect(s.secrets.builtinAllow).toBe(true);
  });

  it('keeps the defaults for what is left out', () => {
    expect(parseChecksConfig(CHECKS_HEAD, 'c.yaml')).toEqual(DEFAULT_SETTINGS);
    expect(parseChecksConfig(`${CHECKS_HEAD}maxImageAge: 2w\n`, 'c.yaml').maxImageAgeDays).toBe(14);
  });

  it('names the file, line and field of a mistake, with a suggestion for a misspelt key', () => {
    expect(errorOf(() => parseChecksConfig(`${CHECKS_HEAD}maxImageAge: 90 days\n`, 'c.yaml'))).toMatch(
      /^c\.yaml:3:\d+: maxImageAge: must be a duration/,
    );
    expect(errorOf(() => parseChecksConfig(`${CHECKS_HEAD}unnecesaryPackages: []\n`, 'c.yaml'))).toMatch(
      /^c\.yaml:3:\d+: .*unknown key 'unnecesaryPackages' \(did you mean 'unnecessaryPackages'\?\)/,
    );
    expect(errorOf(() => parseChecksConfig('kind: [', 'c.yaml'))).toMatch(/^c\.yaml:1:\d+: /);
  });

  it('refuses a secrets.maxFileSize below 1 KiB, naming its line; 1KiB itself is fine', () => {
    for (const size of ['0', '512', '1023B', '0MiB']) {
      expect(errorOf(() => parseChecksConfig(`${CHECKS_HEAD}secrets:\n  maxFileSize: "${size}"\n`, 'c.yaml'))).toBe(
        `c.yaml:4:16: secrets.maxFileSize: '${size}' is below the 1KiB minimum`,
      );
    }
    for (const [size, bytes] of [
      ['1KiB', 1024],
      ['1024', 1024],
      ['2k', 2048],
    ] as const) {
      const s = parseChecksConfig(`${CHECKS_HEAD}secrets:\n  maxFileSize: "${size}"\n`, 'c.yaml');
      expect(s.secrets.maxFileBytes).toBe(bytes);
    }
  });

  it('hostile YAML is one CONFIG_INVALID line, never a crash or a hang', () => {
    const bomb = `a: &a ["x","x","x","x","x","x","x","x","x"]\n${Array.from(
      { length: 12 },
      (_, i) =>
        `b${i}: &b${i} [${Array(9)
          .fill(i === 0 ? '*a' : `*b${i - 1}`)
          .join(',')}]`,
    ).join('\n')}\n`;
    expect(errorOf(() => parseChecksConfig(bomb, 'bomb.yaml'))).toMatch(/^bomb\.yaml:\d+:\d+: /);
    expect(errorOf(() => parseChecksConfig(`${'['.repeat(5000)}`, 'deep.yaml'))).toMatch(/^deep\.yaml:/);
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (text) => {
        try {
          parseChecksConfig(text, 'f.yaml');
        } catch (err) {
          if (!(err instanceof PortcullisError)) throw err;
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('ignore file', () => {
  it('reads the example; every entry carries where it is written', () => {
    const text = readFileSync(join(ROOT, 'examples/checks/portcullisignore.yaml'), 'utf8');
    const entries = parseIgnoreFile(text, 'ignore.yaml');
    expect(entries.map((e) => e.id)).toEqual(['setuid-setgid', 'no-healthcheck']);
    expect(entries[0]?.expires).toBe('2027-06-30');
    // The line of each entry, as the text has it.
    const lines = text.split('\n');
    for (const e of entries) {
      const n = Number(e.source.split(':')[1]);
      expect(lines[n - 1]).toContain(`id: ${e.id}`);
    }
    expect(parse(text).ignore).toHaveLength(2);
  });

  it('requires a reason, and refuses an expiry that is no real date', () => {
    expect(errorOf(() => parseIgnoreFile(`${IGNORE_HEAD}ignore:\n  - id: root-user\n`, 'i.yaml'))).toMatch(
      /^i\.yaml:4:\d+: ignore\[0\]: missing required key 'reason'/,
    );
    expect(
      errorOf(() =>
        parseIgnoreFile(`${IGNORE_HEAD}ignore:\n  - id: root-user\n    reason: r\n    expires: 2027-02-30\n`, 'i.yaml'),
      ),
    ).toMatch(/^i\.yaml:6:\d+: ignore\[0\]\.expires: '2027-02-30' is no real date/);
  });

  it('suppresses by id glob and path glob, cites the entry, and reports expired and unused entries', () => {
    const text = `${IGNORE_HEAD}ignore:
  - id: setuid-*
    paths: ["usr/bin/**"]
    reason: base image tools
  - id: no-healthcheck
    reason: probes
    expires: 2026-01-01
  - id: CVE-2023-0001
    reason: not reachable
`;
    const entries = parseIgnoreFile(text, 'i.yaml');
    const findings = [
      finding('setuid-setgid', 'usr/bin/su'),
      finding('setuid-setgid', 'opt/app/helper'),
      finding('no-healthcheck'),
      finding('root-user'),
    ];
    const out = applyIgnores(findings, entries, new Date('2026-11-29T00:00:00Z'));
    expect(out.findings.map((f) => f.suppression?.source ?? null)).toEqual(['i.yaml:4', null, null, null]);
    expect(out.findings[0]?.suppression).toMatchObject({ kind: 'ignore', justification: 'base image tools' });
    expect(out.notes).toEqual([
      'i.yaml:7: the ignore entry for no-healthcheck expired on 2026-01-01 and no longer applies (1 finding reported again)',
      'i.yaml:10: the ignore entry for CVE-2023-0001 matched no finding',
    ]);
    // The day before the expiry the entry still applies.
    const before = applyIgnores(findings, entries, new Date('2025-12-31T23:59:59Z'));
    expect(before.findings[2]?.suppression?.source).toBe('i.yaml:7');
  });

  it('an entry for a vulnerability matches its aliases too; a finding VEX suppressed keeps that suppression', () => {
    const entries = parseIgnoreFile(`${IGNORE_HEAD}ignore:\n  - id: CVE-2024-1\n    reason: r\n`, 'i.yaml');
    const vuln = finding('DSA-1-1', undefined, {
      kind: 'vulnerability',
      vulnerability: {
        package: { name: 'p', version: '1', purl: 'pkg:deb/debian/p@1', type: 'deb' },
        matched: { ecosystem: 'Debian:12', name: 'p', version: '1' },
        aliases: ['CVE-2024-1'],
        fixedVersions: [],
        status: 'not-fixed',
        sources: [],
      },
    });
    const vexed = { ...vuln, suppression: { kind: 'vex' as const, status: 'not_affected', source: 'v.json' } };
    const out = applyIgnores([vuln, vexed], entries, new Date());
    expect(out.findings[0]?.suppression?.kind).toBe('ignore');
    expect(out.findings[1]?.suppression?.kind).toBe('vex');
  });

  it('dockerfile line entries apply only to findings on those lines of that file', () => {
    const entry = {
      id: 'latest-tag',
      lines: { path: 'Dockerfile', line: 3, endLine: 4 },
      reason: 'r',
      source: 'Dockerfile:2',
    };
    const at = (line: number, path = 'Dockerfile'): Finding =>
      finding('latest-tag', undefined, { location: { kind: 'file', path, line } });
    const out = applyIgnores([at(3), at(4), at(5), at(3, 'other/Dockerfile')], [entry], new Date());
    expect(out.findings.map((f) => !!f.suppression)).toEqual([true, true, false, false]);
  });
});

describe('path globs', () => {
  it('* stays within a component, ** crosses them and may be empty before a slash', () => {
    const g = compilePathGlob;
    expect(g('usr/share/doc/**').test('usr/share/doc/a/b/c')).toBe(true);
    expect(g('usr/*/doc').test('usr/share/doc')).toBe(true);
    expect(g('usr/*/doc').test('usr/a/b/doc')).toBe(false);
    expect(g('**/.env').test('.env')).toBe(true);
    expect(g('**/.env').test('srv/app/.env')).toBe(true);
    expect(g('**/.env').test('srv/app/x.env')).toBe(false);
    expect(g('a.b').test('axb')).toBe(false);
    expect(g('file?.txt').test('file1.txt')).toBe(true);
  });
});
