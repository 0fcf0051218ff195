import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PortcullisError } from '../../src/errors.js';
import { assessmentAgeMs, intervalMs, loadWatchConfig, parseWatchConfig } from '../../src/watch/config.js';

const HEAD = 'apiVersion: portcullis.dev/v1alpha1\nkind: WatchConfig\n';
const FILE = '/etc/portcullis/watch.yaml';

function errorOf(fn: () => unknown): PortcullisError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PortcullisError);
    return err as PortcullisError;
  }
  throw new Error('expected an error');
}

const entry = (over: Record<string, string> = {}) => {
  const e = {
    host: 'registry.example.com:5000',
    repositories: '[prod/**, team/app]',
    trustPolicy: 'trust.yaml',
    maxAssessmentAge: '7d',
    ...over,
  };
  return `  - ${Object.entries(e)
    .map(([k, v]) => `${k}: ${v}`)
    .join('\n    ')}\n`;
};

describe('watch config', () => {
  it('parses a registry: patterns compiled, trust policy relative to the file, age in ms', () => {
    const c = parseWatchConfig(`${HEAD}registries:\n${entry()}`, FILE);
    expect(c.registries).toHaveLength(1);
    const r = c.registries[0];
    expect(r?.host).toBe('registry.example.com:5000');
    expect(r?.trustPolicy).toBe('/etc/portcullis/trust.yaml');
    expect(r?.maxAssessmentAgeMs).toBe(7 * 86_400_000);
    expect(r?.source).toBe(`${FILE}:4`);
    const matches = (repo: string) => r?.patterns.some((p) => p.test(repo));
    expect(matches('prod/app')).toBe(true);
    expect(matches('prod/a/b')).toBe(true);
    expect(matches('team/app')).toBe(true);
    expect(matches('team/other')).toBe(false);
    expect(matches('production/app')).toBe(false);
  });

  it('durations: hours, days and weeks', () => {
    expect(assessmentAgeMs('36h')).toBe(36 * 3_600_000);
    expect(assessmentAgeMs('2w')).toBe(14 * 86_400_000);
  });

  it('an absolute trust policy path is kept', () => {
    const c = parseWatchConfig(`${HEAD}registries:\n${entry({ trustPolicy: '/srv/trust.yaml' })}`, FILE);
    expect(c.registries[0]?.trustPolicy).toBe('/srv/trust.yaml');
  });

  it.each([
    ['a wrong kind', 'apiVersion: portcullis.dev/v1alpha1\nkind: ImagePolicy\nregistries: []\n', /:2:\d+: kind/],
    ['no registries', HEAD, /:1:1: .*registries/],
    ['an unknown key', `${HEAD}registries:\n${entry()}    extra: 1\n`, /:8:5: registries\[0\]\.extra: unknown key/],
    [
      'a bad duration',
      `${HEAD}registries:\n${entry({ maxAssessmentAge: '7 days' })}`,
      /:7:\d+: registries\[0\]\.maxAssessmentAge/,
    ],
    [
      'a zero duration',
      `${HEAD}registries:\n${entry({ maxAssessmentAge: '0d' })}`,
      /:7:\d+: registries\[0\]\.maxAssessmentAge/,
    ],
    ['a host with a scheme', `${HEAD}registries:\n${entry({ host: 'https://x' })}`, /:4:\d+: registries\[0\]\.host/],
    [
      'an upper-case pattern',
      `${HEAD}registries:\n${entry({ repositories: '[Prod/*]' })}`,
      /:5:\d+: registries\[0\]\.repositories\[0\]/,
    ],
    [
      'no repositories',
      `${HEAD}registries:\n${entry({ repositories: '[]' })}`,
      /:5:\d+: registries\[0\]\.repositories/,
    ],
    [
      'a missing field',
      `${HEAD}registries:\n  - host: r.example\n    repositories: [a]\n    trustPolicy: t.yaml\n`,
      /:4:\d+: registries\[0\].*maxAssessmentAge/,
    ],
    [
      'a duplicate host',
      `${HEAD}registries:\n${entry()}${entry()}`,
      /:8:\d+: registries\[1\]\.host: .* already watched by registries\[0\]/,
    ],
    ['not YAML', `${HEAD}registries: [\n`, /watch\.yaml:\d+:\d+: /],
  ])('%s is CONFIG_INVALID with file, line and field', (_name, text, message) => {
    const err = errorOf(() => parseWatchConfig(text, FILE));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message.startsWith(`${FILE}:`)).toBe(true);
    expect(err.message).toMatch(message);
    expect(err.message).not.toContain('\n');
  });

  it('daemon settings: defaults when left out', () => {
    const c = parseWatchConfig(`${HEAD}registries:\n${entry()}`, FILE);
    expect(c.state).toBeUndefined();
    expect(c.listen).toEqual({ host: '127.0.0.1', port: 9479 });
    expect(c.notificationSecretEnv).toBeUndefined();
    expect(c.reconcileIntervalMs).toBe(300_000);
    expect(c.alerts).toEqual([]);
    expect(c.registries[0]?.quarantine).toBe('dry-run');
  });

  it('daemon settings: state relative to the file, listen, secret variable, interval, alert sinks, quarantine', () => {
    const text = [
      HEAD.trimEnd(),
      'state: state/watch.db',
      'listen: "[::1]:0"',
      'notificationSecretEnv: WATCH_SECRET',
      'reconcileInterval: 30s',
      'alerts:',
      '  - { name: ops, kind: webhook, url: "https://hooks.example.com/a", headersEnv: OPS_HEADERS }',
      '  - { name: chat, kind: slack, url: "http://127.0.0.1:9/x" }',
      `registries:\n${entry({ quarantine: 'dry-run' })}`,
    ].join('\n');
    const c = parseWatchConfig(text, FILE);
    expect(c.state).toBe('/etc/portcullis/state/watch.db');
    expect(c.listen).toEqual({ host: '::1', port: 0 });
    expect(c.notificationSecretEnv).toBe('WATCH_SECRET');
    expect(c.reconcileIntervalMs).toBe(30_000);
    expect(c.alerts).toEqual([
      { name: 'ops', kind: 'webhook', url: 'https://hooks.example.com/a', headersEnv: 'OPS_HEADERS' },
      { name: 'chat', kind: 'slack', url: 'http://127.0.0.1:9/x' },
    ]);
    expect(c.registries[0]?.quarantine).toBe('dry-run');
    expect(intervalMs('2h')).toBe(7_200_000);
  });

  it.each([
    ['a listen without a port', 'listen: 127.0.0.1\n', /:3:\d+: listen/],
    ['a port over 65535', 'listen: 127.0.0.1:70000\n', /:3:\d+: listen: port 70000 is over 65535/],
    ['an interval in days', 'reconcileInterval: 1d\n', /:3:\d+: reconcileInterval/],
    ['the secret itself in the file', 'notificationSecret: hunter2\n', /:3:\d+: notificationSecret: unknown key/],
    ['a secret variable that is not a name', 'notificationSecretEnv: "$X"\n', /:3:\d+: notificationSecretEnv/],
    ['an alert kind', 'alerts: [{ name: a, kind: email, url: "https://x" }]\n', /:3:\d+: alerts\[0\]\.kind/],
    ['an alert URL scheme', 'alerts: [{ name: a, kind: webhook, url: "ftp://x" }]\n', /:3:\d+: alerts\[0\]\.url/],
    [
      'a duplicate alert name',
      'alerts:\n  - { name: a, kind: webhook, url: "https://x" }\n  - { name: a, kind: slack, url: "https://y" }\n',
      /:5:\d+: alerts\[1\]\.name: 'a' is already alerts\[0\]/,
    ],
    [
      'a broken alert URL',
      'alerts: [{ name: a, kind: webhook, url: "http://[x" }]\n',
      /:3:\d+: alerts\[0\]\.url: not a URL/,
    ],
  ])('%s is CONFIG_INVALID with line and field', (_name, extra, message) => {
    const err = errorOf(() => parseWatchConfig(`${HEAD}${extra}registries:\n${entry()}`, FILE));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toMatch(message);
  });

  it('a quarantine mode outside off, dry-run, delete is CONFIG_INVALID at its line', () => {
    const err = errorOf(() => parseWatchConfig(`${HEAD}registries:\n${entry({ quarantine: 'untag' })}`, FILE));
    expect(err.message).toMatch(/:8:\d+: registries\[0\]\.quarantine/);
  });

  it('reads files: a missing one is NOT_FOUND, a file over 1 MiB is refused unparsed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-watchcfg-'));
    expect(errorOf(() => loadWatchConfig(join(dir, 'none.yaml'))).code).toBe('NOT_FOUND');
    const big = join(dir, 'big.yaml');
    writeFileSync(big, `${HEAD}# ${'x'.repeat(1024 * 1024)}\n`);
    expect(errorOf(() => loadWatchConfig(big)).message).toMatch(/larger than 1 MiB/);
    const ok = join(dir, 'ok.json');
    writeFileSync(
      ok,
      JSON.stringify({
        apiVersion: 'portcullis.dev/v1alpha1',
        kind: 'WatchConfig',
        registries: [{ host: '127.0.0.1:5000', repositories: ['*'], trustPolicy: 't.yaml', maxAssessmentAge: '1h' }],
      }),
    );
    expect(loadWatchConfig(ok).registries[0]?.trustPolicy).toBe(join(dir, 't.yaml'));
  });
});
