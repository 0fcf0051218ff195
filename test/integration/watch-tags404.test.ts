import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WatchState } from '../../src/watch/state.js';
import { runCli } from '../helpers/cli.js';
import { type Fault, startFaultProxy } from '../helpers/faultproxy.js';
import { KEY_PASSWORD, skopeo } from '../helpers/gate.js';
import { EXAMPLE } from '../helpers/paths.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

/**
 * A 404 on the tag list of a repository the catalog listed. A real registry (CNCF distribution) sits behind the
 * loopback fault proxy. Distribution's own answer for a gone repository carries the NAME_UNKNOWN error and keeps
 * today's meaning (no tags: every tag of it is removed); a bare 404 (a proxy, a misroute) must fail the reconcile with
 * one line and exit 3, and leave the state as it was (no tag resolved as removed). Also: a configured pattern that
 * matches no repository is reported (table warning, JSON `unmatchedPatterns`). Oracle: the registry's own tag list
 * and the state read back.
 */

const pass: Fault = { kind: 'pass' };
let tmp: string;
let reg: TestRegistry;
let proxy: Awaited<ReturnType<typeof startFaultProxy>>;
let decide: (req: http.IncomingMessage) => Fault = () => pass;
let config: string;
let stateFile: string;

const watch = (extra: string[] = []) =>
  runCli(['registry', 'watch', '--config', config, '--once', '--insecure-registry', proxy.host, ...extra]);

/** The tags the state knows for the proxy's host, as `repository:tag status`. */
function stateTags(): string[] {
  const s = WatchState.open(stateFile);
  try {
    return s.tags(proxy.host).map((t) => `${t.repository}:${t.tag} ${t.status}`);
  } finally {
    s.close();
  }
}

const tagList404 =
  (body: string) =>
  (req: http.IncomingMessage): Fault =>
    req.url?.startsWith('/v2/prod/unsigned/tags/list') ? { kind: 'status', status: 404, body } : pass;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'portcullis-watch-404-'));
  reg = await startRegistry();
  proxy = await startFaultProxy(reg.host, (req) => decide(req));
  for (const t of ['1', '2'])
    await skopeo(
      'copy',
      '--quiet',
      '--preserve-digests',
      '--dest-tls-verify=false',
      `oci:${EXAMPLE}:latest`,
      `docker://${reg.host}/prod/unsigned:${t}`,
    );
  const key = await runCli(['keygen', '--output-key-prefix', join(tmp, 'gate')], { COSIGN_PASSWORD: KEY_PASSWORD });
  expect(key.code, key.stderr).toBe(0);
  writeFileSync(
    join(tmp, 'trust.yaml'),
    `version: 1\nrepositories:\n  - match: ${proxy.host}/prod/**\n    keys: [gate.pub]\n`,
  );
  stateFile = join(tmp, 'watch.db');
  config = join(tmp, 'watch.yaml');
  writeFileSync(
    config,
    [
      'apiVersion: portcullis.dev/v1alpha1',
      'kind: WatchConfig',
      'state: watch.db',
      'registries:',
      `  - host: ${proxy.host}`,
      '    repositories: [prod/**, typo/app]',
      '    trustPolicy: trust.yaml',
      '    maxAssessmentAge: 7d',
      '    quarantine: off',
      '',
    ].join('\n'),
  );
}, 120_000);

afterAll(async () => {
  await proxy?.stop();
  await reg?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('registry watch: a 404 on a listed repository', () => {
  it('fault-free: both tags are in the state; the pattern matching nothing is reported (table and JSON)', async () => {
    decide = () => pass;
    const listed = (await (await fetch(`http://${reg.host}/v2/prod/unsigned/tags/list`)).json()) as { tags: string[] };
    expect(listed.tags.sort()).toEqual(['1', '2']);
    const r = await watch();
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toContain(
      'Warning:      typo/app matched no repository (not watched: a typo, or not visible to these credentials)',
    );
    expect(stateTags()).toEqual(['prod/unsigned:1 unsigned', 'prod/unsigned:2 unsigned']);
    const j = await watch(['-f', 'json']);
    expect(j.code, j.stderr).toBe(1);
    const doc = JSON.parse(j.stdout);
    expect(doc.registries[0].repositories).toEqual(['prod/unsigned']);
    expect(doc.registries[0].unmatchedPatterns).toEqual(['typo/app']);
  });

  it('a bare 404 (no NAME_UNKNOWN) fails the reconcile: exit 3, one line, the state keeps both tags', async () => {
    decide = tagList404('');
    for (const extra of [[], ['--state', stateFile]]) {
      const r = await watch(extra);
      expect(r.code, r.stdout + r.stderr).toBe(3);
      expect(r.stdout).toBe('');
      // One line with the error, then at most hint lines.
      const lines = r.stderr.trimEnd().split('\n');
      expect(
        lines.slice(1).every((l) => l.startsWith('  hint: ')),
        r.stderr,
      ).toBe(true);
      expect(lines[0]).toMatch(
        /^portcullis: REGISTRY_ERROR: tags of .*prod\/unsigned.*: HTTP 404 without distribution's NAME_UNKNOWN error, so the repository is not known to be gone/,
      );
    }
    expect(stateTags()).toEqual(['prod/unsigned:1 unsigned', 'prod/unsigned:2 unsigned']);
    // Another error code in the body is no proof either.
    decide = tagList404('{"errors":[{"code":"UNKNOWN","message":"x"}]}');
    expect((await watch()).code).toBe(3);
    expect(stateTags()).toEqual(['prod/unsigned:1 unsigned', 'prod/unsigned:2 unsigned']);
  });

  it("distribution's NAME_UNKNOWN keeps its meaning: the repository is gone, its tags are removed from the state", async () => {
    decide = tagList404('{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}');
    const r = await watch(['-f', 'json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).registries[0].tags).toEqual([]);
    expect(stateTags()).toEqual([]);
  });
});
