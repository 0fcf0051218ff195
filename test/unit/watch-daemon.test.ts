import { describe, expect, it } from 'vitest';
import { PortcullisError } from '../../src/errors.js';
import { parseWatchConfig } from '../../src/watch/config.js';
import { resolveSecret, resolveSinks } from '../../src/watch/daemon.js';
import { entryLogger, jsonLogger, logLine } from '../../src/watch/log.js';

/** The watcher's pure edges: secrets and sink headers from the environment, and the JSON log lines. */

const config = parseWatchConfig(
  [
    'apiVersion: portcullis.dev/v1alpha1',
    'kind: WatchConfig',
    'notificationSecretEnv: W_SECRET',
    'alerts:',
    '  - { name: a, kind: webhook, url: "https://hooks.test/a", headersEnv: A_HEADERS }',
    '  - { name: b, kind: slack, url: "https://hooks.test/b" }',
    'registries:',
    '  - { host: r.test, repositories: [p/*], trustPolicy: t.yaml, maxAssessmentAge: 1d }',
  ].join('\n'),
  '/etc/watch.yaml',
);

function refusal(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(PortcullisError);
    expect((err as PortcullisError).code).toBe('CONFIG_INVALID');
    return (err as Error).message;
  }
  throw new Error('expected CONFIG_INVALID');
}

describe('watcher environment', () => {
  it('reads the sink headers and the notification secret from the variables the config names', () => {
    const env = { A_HEADERS: '{"Authorization":"Bearer t","X-Team":"ops"}', W_SECRET: 's3' };
    expect(resolveSinks(config, env)).toEqual([
      {
        name: 'a',
        kind: 'webhook',
        url: 'https://hooks.test/a',
        headers: { Authorization: 'Bearer t', 'X-Team': 'ops' },
      },
      { name: 'b', kind: 'slack', url: 'https://hooks.test/b' },
    ]);
    expect(resolveSecret(config, env)).toBe('s3');
  });

  it('an unset or malformed variable stops the watcher (fail closed: never an open endpoint by accident)', () => {
    expect(refusal(() => resolveSecret(config, {}))).toBe(
      '/etc/watch.yaml: notificationSecretEnv W_SECRET is not set in the environment',
    );
    expect(refusal(() => resolveSecret(config, { W_SECRET: '' }))).toContain('is not set');
    expect(refusal(() => resolveSinks(config, {}))).toContain("alerts 'a': headersEnv A_HEADERS is not set");
    expect(refusal(() => resolveSinks(config, { A_HEADERS: 'Authorization: x' }))).toContain('is not JSON');
    for (const bad of ['[]', '"x"', '{"A":1}', '{"bad header":"x"}', 'null']) {
      expect(refusal(() => resolveSinks(config, { A_HEADERS: bad }))).toContain('JSON object of header names');
    }
  });

  it('no secret configured: none asked for', () => {
    const open = parseWatchConfig(
      'apiVersion: portcullis.dev/v1alpha1\nkind: WatchConfig\nregistries:\n  - { host: r.test, repositories: [p], trustPolicy: t, maxAssessmentAge: 1h }\n',
      '/w.yaml',
    );
    expect(resolveSecret(open, {})).toBeUndefined();
  });
});

describe('JSON log lines', () => {
  const at = new Date('2026-01-02T03:04:05.000Z');

  it('time, level and msg first, then the fields; one line whatever the text holds', () => {
    const line = logLine('warn', 'tag\nmoved', { repository: 'a\u2028b', n: 2 }, at);
    expect(line.endsWith('\n')).toBe(true);
    expect(line.slice(0, -1)).not.toMatch(/[\n\r]/);
    expect(Object.keys(JSON.parse(line))).toEqual(['time', 'level', 'msg', 'repository', 'n']);
    expect(JSON.parse(line)).toEqual({
      time: '2026-01-02T03:04:05.000Z',
      level: 'warn',
      msg: 'tag\nmoved',
      repository: 'a\u2028b',
      n: 2,
    });
  });

  it('fields cannot override time, level or msg', () => {
    const doc = JSON.parse(logLine('info', 'real', { time: 'x', level: 'error', msg: 'fake', k: 1 }, at));
    expect(doc).toEqual({ time: at.toISOString(), level: 'info', msg: 'real', k: 1 });
  });

  it("alerts.ts's entries map to levels and messages", () => {
    const lines: string[] = [];
    const log = entryLogger(
      jsonLogger(
        (l) => lines.push(l),
        () => at,
      ),
    );
    log({ level: 'error', event: 'alert.undelivered', message: 'not delivered', sink: 's' });
    log({ level: 'info', event: 'alert.delivered', sink: 's' });
    expect(lines.map((l) => JSON.parse(l))).toEqual([
      { time: at.toISOString(), level: 'error', msg: 'not delivered', event: 'alert.undelivered', sink: 's' },
      { time: at.toISOString(), level: 'info', msg: 'alert.delivered', event: 'alert.delivered', sink: 's' },
    ]);
  });
});
