import { describe, expect, it } from 'vitest';
import { PortcullisError } from '../../src/errors.js';
import { deliverPending, redactUrls } from '../../src/watch/alerts.js';
import { parseWatchConfig } from '../../src/watch/config.js';
import { WatchState } from '../../src/watch/state.js';

const HEAD = 'apiVersion: portcullis.dev/v1alpha1\nkind: WatchConfig\n';
const REGISTRY =
  'registries:\n  - host: registry.example.com:5000\n    repositories: [prod/**]\n    trustPolicy: trust.yaml\n    maxAssessmentAge: 7d\n';

describe('alert sinks: credentials never reach a log', () => {
  it.each([
    ['user and password', 'https://user:s3cret@hooks.example.com/x'],
    ['a user alone (a token as the user name)', 'https://s3cret@hooks.example.com/x'],
  ])('a sink URL with %s is CONFIG_INVALID at its line, pointing to headersEnv', (_name, url) => {
    let err: unknown;
    try {
      parseWatchConfig(`${HEAD}alerts:\n  - { name: a, kind: webhook, url: "${url}" }\n${REGISTRY}`, '/etc/w.yaml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PortcullisError);
    expect((err as PortcullisError).code).toBe('CONFIG_INVALID');
    expect((err as PortcullisError).message).toMatch(
      /\/etc\/w\.yaml:4:\d+: alerts\[0\]\.url: has user:password@ in it; put credentials in headersEnv/,
    );
  });

  it("fetch's error naming a URL with credentials is logged without them (a sink built without the config)", async () => {
    const state = WatchState.open(':memory:');
    try {
      state.applyReconcile(
        'reg.test',
        ['app'],
        [
          {
            host: 'reg.test',
            repository: 'app',
            tag: '1',
            digest: `sha256:${'e'.repeat(64)}`,
            classification: { status: 'unsigned', detail: 'no signature' },
          },
        ],
        new Date('2026-03-10T12:00:00Z'),
      );
      const logs: Record<string, unknown>[] = [];
      const r = await deliverPending(
        state,
        [{ name: 'ops', kind: 'webhook', url: 'http://user:s3cret@127.0.0.1:9/x' }],
        { timeoutMs: 2_000, retries: 0, log: (e) => logs.push(e), now: () => new Date() },
      );
      expect(r).toEqual({ delivered: 0, failed: 1 });
      const text = JSON.stringify(logs);
      expect(logs.some((l) => l.event === 'alert.undelivered')).toBe(true);
      expect(text).not.toContain('s3cret');
    } finally {
      state.close();
    }
  });

  it('redactUrls: the sink URL and any userinfo go; the rest of the message stays', () => {
    const sink = { name: 'chat', url: 'https://hooks.slack.test/services/T0/B0/tokenpart' };
    expect(
      redactUrls(
        'Request cannot be constructed from a URL that includes credentials: https://user:s3cret@host/x',
        sink,
      ),
    ).toBe('Request cannot be constructed from a URL that includes credentials: https://<redacted>@host/x');
    expect(redactUrls(`connect ECONNREFUSED for ${sink.url}`, sink)).toBe('connect ECONNREFUSED for <url of chat>');
    expect(redactUrls('HTTP 500', sink)).toBe('HTTP 500');
  });
});
