/**
 * `portcullis version compare --explain`: which component of two versions decided their order. Each breakdown is
 * computed with the scheme's own comparison functions on one component at a time, so it cannot disagree with it.
 */
import semver from 'semver';
import { printable } from '../../errors.js';
import { compareDpkgVersions, parseDpkgVersion } from './dpkg.js';
import { compareRpmVersions, parseRpmVersion } from './rpm.js';
import type { Comparison, VersionScheme } from './scheme.js';

const SIGN: Record<Comparison, string> = { [-1]: '<', 0: '=', 1: '>' };

/** One component of both versions and how it compared. */
interface Step {
  readonly component: string;
  readonly a: string;
  readonly b: string;
  readonly cmp: Comparison;
}

const num = (x: number, y: number): Comparison => (x < y ? -1 : x > y ? 1 : 0);

function dpkgSteps(a: string, b: string): Step[] {
  const x = parseDpkgVersion(a);
  const y = parseDpkgVersion(b);
  const only = (upstream: string, revision: string) => ({ epoch: 0, upstream, revision });
  return [
    { component: 'epoch', a: String(x.epoch), b: String(y.epoch), cmp: num(x.epoch, y.epoch) },
    {
      component: 'upstream',
      a: x.upstream,
      b: y.upstream,
      cmp: compareDpkgVersions(only(x.upstream, ''), only(y.upstream, '')),
    },
    {
      component: 'revision',
      a: x.revision || '(none, as 0)',
      b: y.revision || '(none, as 0)',
      cmp: compareDpkgVersions(only('0', x.revision), only('0', y.revision)),
    },
  ];
}

function rpmSteps(a: string, b: string): Step[] {
  const x = parseRpmVersion(a);
  const y = parseRpmVersion(b);
  const part = (epoch: string | undefined, version: string, release: string | undefined) => ({
    epoch,
    version,
    release,
  });
  return [
    {
      component: 'epoch',
      a: x.epoch ?? '(none, as 0)',
      b: y.epoch ?? '(none, as 0)',
      cmp: compareRpmVersions(part(x.epoch, '', undefined), part(y.epoch, '', undefined)),
    },
    {
      component: 'version',
      a: x.version,
      b: y.version,
      cmp: compareRpmVersions(part(undefined, x.version, undefined), part(undefined, y.version, undefined)),
    },
    {
      component: 'release',
      a: x.release ?? '(none, below any)',
      b: y.release ?? '(none, below any)',
      cmp: compareRpmVersions(part(undefined, '', x.release), part(undefined, '', y.release)),
    },
  ];
}

function semverSteps(a: string, b: string): Step[] {
  // Same reading as the semver scheme (loose); the scheme's compare has already refused invalid versions.
  const x = new semver.SemVer(a, { loose: true });
  const y = new semver.SemVer(b, { loose: true });
  const pre = (v: semver.SemVer) => (v.prerelease.length ? v.prerelease.join('.') : '(none, above any prerelease)');
  return [
    { component: 'major', a: String(x.major), b: String(y.major), cmp: num(x.major, y.major) },
    { component: 'minor', a: String(x.minor), b: String(y.minor), cmp: num(x.minor, y.minor) },
    { component: 'patch', a: String(x.patch), b: String(y.patch), cmp: num(x.patch, y.patch) },
    { component: 'prerelease', a: pre(x), b: pre(y), cmp: x.comparePre(y) },
  ];
}

const BREAKDOWNS: Readonly<Record<string, (a: string, b: string) => Step[]>> = {
  dpkg: dpkgSteps,
  rpm: rpmSteps,
  semver: semverSteps,
};

/**
 * The verdict of `scheme` on `a` and `b` and, for schemes with a breakdown (dpkg, rpm, semver), each component up to
 * the one that decided. Throws InvalidVersionError as `scheme.compare` does.
 */
export function explainComparison(scheme: VersionScheme, a: string, b: string): { cmp: Comparison; lines: string[] } {
  const cmp = scheme.compare(a, b);
  const lines = [`${scheme.name}: '${printable(a, 100)}' ${SIGN[cmp]} '${printable(b, 100)}'`];
  const breakdown = BREAKDOWNS[scheme.name];
  if (breakdown === undefined) {
    lines.push(`  (no component breakdown for ${scheme.name}; docs/commands/version.md describes its order)`);
    return { cmp, lines };
  }
  const steps = breakdown(a, b);
  const width = Math.max(...steps.map((s) => s.component.length));
  for (const s of steps) {
    const decides = s.cmp !== 0;
    lines.push(
      `  ${s.component.padEnd(width)}  ${printable(s.a, 60)} ${SIGN[s.cmp]} ${printable(s.b, 60)}${decides ? '   <- decides' : ''}`,
    );
    if (decides) break;
  }
  if (cmp === 0) lines.push('  equal in every component');
  if (scheme.name === 'semver' && cmp === 0 && a !== b) lines.push('  (build metadata and loose spelling are ignored)');
  return { cmp, lines };
}
