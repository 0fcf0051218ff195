import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PortcullisError } from '../../src/errors.js';
import { gateRecordOfError } from '../../src/gate/errorrecord.js';
import type { AssessmentPredicate, GateResult } from '../../src/gate/model.js';
import { testPause } from '../../src/gate/pause.js';
import { addCounts, countFindings } from '../../src/gate/predicate.js';
import { buildRecord, StepClock, writeRecord } from '../../src/gate/record.js';
import { parseGateRefs } from '../../src/gate/resolve.js';
import { vuln } from '../helpers/policy.js';

const D = `sha256:${'a'.repeat(64)}`;

describe('parseGateRefs', () => {
  const ok: [string, string, string | undefined, string, string, string][] = [
    // source, --to, --tag → source repo, production repo, tag
    ['docker://stage.example/team/app:1.4', 'prod.example/team/app', undefined, 'team/app', 'prod.example', '1.4'],
    ['stage.example/team/app:1.4', 'docker://prod.example/app:stable', undefined, 'team/app', 'prod.example', 'stable'],
    ['stage.example/team/app:1.4', 'prod.example/app', 'v2', 'team/app', 'prod.example', 'v2'],
    ['stage.example/team/app:1.4', 'prod.example/app:v2', 'v2', 'team/app', 'prod.example', 'v2'],
    [`stage.example/team/app@${D}`, 'prod.example:5000/app', 'rc1', 'team/app', 'prod.example:5000', 'rc1'],
    [`stage.example/team/app:1.4@${D}`, 'prod.example/app', undefined, 'team/app', 'prod.example', '1.4'],
    ['stage.example/team/app', 'prod.example/app', undefined, 'team/app', 'prod.example', 'latest'],
  ];
  it.each(ok)('%s --to %s --tag %s', (source, to, tag, srcRepo, dstHost, want) => {
    const r = parseGateRefs(source, to, tag);
    expect(r.source.repository).toBe(srcRepo);
    expect(r.dest.registry).toBe(dstHost);
    expect(r.tag).toBe(want);
  });

  const bad: [string, string, string | undefined, RegExp][] = [
    ['oci:./layout:latest', 'prod.example/app', undefined, /SOURCE .* registries/],
    ['stage.example/app:1', 'oci:./out', undefined, /--to .* registries/],
    ['stage.example/app:1', `prod.example/app@${D}`, undefined, /not a digest/],
    ['stage.example/app:1', 'prod.example/app:a', 'b', /--to names tag 'a' and --tag 'b'/],
    [`stage.example/app@${D}`, 'prod.example/app', undefined, /digest only/],
    ['stage.example/app:1', 'prod.example/app', `sha256-${'a'.repeat(64)}.sig`, /signature or referrers tag/],
    ['stage.example/app:1', 'prod.example/app', 'bad tag', /not a valid tag/],
    ['reg.example/team/app:1', 'docker://reg.example/team/app:stable', undefined, /same repository/],
  ];
  it.each(bad)('refuses %s --to %s --tag %s', (source, to, tag, message) => {
    let err: unknown;
    try {
      parseGateRefs(source, to, tag);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PortcullisError);
    expect((err as PortcullisError).exitCode).toBe(2);
    expect((err as Error).message).toMatch(message);
  });

  it('any input either parses to a valid tag or fails with a typed input error', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.option(fc.string(), { nil: undefined }), (s, t, tag) => {
        try {
          const r = parseGateRefs(s, t, tag);
          return /^[\w][\w.-]{0,127}$/.test(r.tag) && !r.tag.startsWith('sha256-');
        } catch (err) {
          return err instanceof PortcullisError && err.exitCode === 2;
        }
      }),
    );
  });
});

describe('findings counts and the record', () => {
  const findings = [
    vuln({ id: 'CVE-1', pkg: 'a', severity: 'critical' }),
    vuln({ id: 'CVE-2', pkg: 'b', severity: 'high' }),
    vuln({ id: 'CVE-3', pkg: 'c', severity: 'unknown' }),
    {
      ...vuln({ id: 'CVE-4', pkg: 'd', severity: 'high' }),
      suppression: { kind: 'vex', status: 'fixed', source: 'x' },
    },
  ] as const;

  it('counts active findings by severity and suppressed ones apart', () => {
    const c = countFindings(findings);
    expect(c).toEqual({ total: 3, critical: 1, high: 1, medium: 0, low: 0, info: 0, unknown: 1, suppressed: 1 });
    expect(addCounts([c, c])).toEqual({
      total: 6,
      critical: 2,
      high: 2,
      medium: 0,
      low: 0,
      info: 0,
      unknown: 2,
      suppressed: 2,
    });
  });

  function predicate(outcomes: ('pass' | 'fail' | 'error')[][]): AssessmentPredicate {
    const counts = countFindings([]);
    return {
      decision: outcomes.every((p) => p.every((o) => o === 'pass')) ? 'PASS' : 'FAIL',
      subject: { source: 'docker://s/app:1', digest: D, mediaType: 'application/vnd.oci.image.index.v1+json' },
      policy: { name: 'p', file: 'p.yaml', digest: D },
      checkSettings: 'defaults',
      assessedAt: '2026-01-01T00:00:00.000Z',
      tool: { name: 'portcullis', version: '0' },
      database: { updated: null },
      findings: counts,
      platforms: outcomes.map((rules, i) => ({
        platform: `linux/arch${i}`,
        digest: `sha256:${String(i).repeat(64)}`,
        decision: {
          verdict: rules.every((o) => o === 'pass') ? 'PASS' : 'FAIL',
          pass: rules.every((o) => o === 'pass'),
          policy: { name: 'p', file: 'p.yaml', digest: D },
          image: { reference: 'x' },
          evaluatedAt: '2026-01-01T00:00:00.000Z',
          rules: rules.map((outcome, j) => ({
            id: `rule-${j}`,
            title: 't',
            outcome,
            reasons: [`r${i}${j}`],
            findings: [],
          })),
          exceptionsUsed: [],
          exceptionsExpired: [],
          warnings: [],
        },
        findings: counts,
        vulnerabilities: [],
      })),
    };
  }

  function result(p: AssessmentPredicate, outcome: GateResult['outcome']): GateResult {
    return {
      outcome,
      source: p.subject.source,
      digest: D,
      mediaType: p.subject.mediaType,
      destination: 'prod/app',
      tag: '1',
      predicate: p,
      time: '2026-01-01T00:00:01.000Z',
    };
  }

  it('merges rules across platforms: the worst outcome, reasons prefixed by platform', () => {
    const r = buildRecord(
      result(
        predicate([
          ['pass', 'pass'],
          ['pass', 'error'],
        ]),
        'failed',
      ),
    );
    expect(r.decision).toBe('FAIL');
    expect(r.promoted).toBe(false);
    expect(r.rules).toEqual([
      { id: 'rule-0', outcome: 'pass', reasons: ['linux/arch0: r00', 'linux/arch1: r10'] },
      { id: 'rule-1', outcome: 'error', reasons: ['linux/arch0: r01', 'linux/arch1: r11'] },
    ]);
    expect(r.platforms.map((p) => p.decision)).toEqual(['PASS', 'FAIL']);
  });

  it('a single platform keeps its reasons as they are; an already promoted digest is promoted', () => {
    const r = buildRecord(result(predicate([['pass']]), 'already-promoted'));
    expect(r).toMatchObject({ decision: 'PASS', promoted: true, alreadyPromoted: true });
    expect(r.rules).toEqual([{ id: 'rule-0', outcome: 'pass', reasons: ['r00'] }]);
  });

  it('times each step from the previous lap, leaving out paused time; the record carries the times when given', () => {
    const ticks = [0n, 2_000_000n, 7_000_000n, 50_000_000n, 51_000_000n];
    const clock = new StepClock(() => ticks.shift() as bigint);
    clock.lap('resolve'); // 0 -> 2 ms
    clock.lap('assess'); // 2 -> 7 ms
    clock.reset(); // a pause from 7 to 50 ms belongs to no step
    clock.lap('copy'); // 50 -> 51 ms
    expect(clock.seconds).toEqual({ resolve: 0.002, assess: 0.005, copy: 0.001 });
    expect(buildRecord(result(predicate([['pass']]), 'promoted'), clock.seconds).stepSeconds).toEqual(clock.seconds);
    expect(buildRecord(result(predicate([['pass']]), 'promoted'))).not.toHaveProperty('stepSeconds');
  });

  it('writes the record whole (a temporary file renamed), and says where when it cannot', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gate-record-'));
    const file = join(dir, 'r.json');
    writeFileSync(file, 'old');
    await writeRecord(file, { a: 1 });
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ a: 1 });
    await expect(writeRecord(join(dir, 'missing', 'r.json'), {})).rejects.toThrow(/cannot write the gate record/);
  });

  it('an error record never stores credentials typed into the source, and is never a PASS', () => {
    const r = gateRecordOfError(
      'docker://user:secret@stage.example/app:1',
      new PortcullisError('NETWORK', 'down'),
      new Date(0),
    );
    expect(JSON.stringify(r)).not.toContain('secret');
    for (const source of ['docker://alice:se/cret@stage.example/app:1', 'docker://alice:s@cret@stage.example/app:1']) {
      const e = gateRecordOfError(source, new PortcullisError('BAD_REFERENCE', 'refused'), new Date(0));
      expect(e.source).toBe('docker://***@stage.example/app:1');
    }
    expect(r).toMatchObject({ decision: 'ERROR', promoted: false, error: { code: 'NETWORK', exitCode: 3 } });
    expect(gateRecordOfError('s', new Error('boom')).error).toMatchObject({ code: 'INTERNAL', exitCode: 3 });
  });
});

describe('the test pause hook', () => {
  it('does nothing unless both variables name this step', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gate-pause-'));
    const file = join(dir, 'p');
    await testPause('copy', {});
    await testPause('copy', { PORTCULLIS_GATE_TEST_PAUSE: 'after-copy' });
    await testPause('copy', { PORTCULLIS_GATE_TEST_PAUSE: 'after-sign', PORTCULLIS_GATE_TEST_PAUSE_FILE: file });
    expect(existsSync(file)).toBe(false);
  });
});
