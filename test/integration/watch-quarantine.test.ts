import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TagVerdict } from '../../src/watch/classify.js';
import { parseWatchConfig, type WatchedRegistry } from '../../src/watch/config.js';
import { type QuarantineResult, quarantineDigest, quarantineVerdicts } from '../../src/watch/quarantine.js';
import { reconcileTag } from '../../src/watch/reconcile.js';
import { WatchState } from '../../src/watch/state.js';
import { runCli } from '../helpers/cli.js';
import {
  EXAMPLE_DIGEST,
  exampleDb,
  KEY_PASSWORD,
  passingRules,
  requests,
  skopeo,
  writePolicy,
} from '../helpers/gate.js';
import { EXAMPLE } from '../helpers/paths.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

/**
 * Quarantine against a real registry with deletes enabled (CNCF distribution): dry-run deletes nothing, delete removes
 * an unsigned digest, and a digest the gate approved (now, or ever, as the state remembers) is refused. Oracles: the
 * registry's own answers for the manifests and its access log (was a DELETE sent at all).
 */

const pw = { COSIGN_PASSWORD: KEY_PASSWORD };
let tmp: string;
let reg: TestRegistry;

const entry = (quarantine: string): WatchedRegistry => {
  const text = [
    'apiVersion: portcullis.dev/v1alpha1',
    'kind: WatchConfig',
    'registries:',
    `  - host: ${reg.host}`,
    '    repositories: [prod/**]',
    '    trustPolicy: trust.yaml',
    '    maxAssessmentAge: 7d',
    `    quarantine: ${quarantine}`,
  ].join('\n');
  return parseWatchConfig(text, join(tmp, 'watch.yaml')).registries[0] as WatchedRegistry;
};
const opts = () => ({ registry: { insecureRegistries: [reg.host] }, now: () => Date.now() });

async function push(dest: string): Promise<void> {
  await skopeo(
    'copy',
    '--quiet',
    '--preserve-digests',
    '--dest-tls-verify=false',
    `oci:${EXAMPLE}:latest`,
    `docker://${reg.host}/${dest}`,
  );
}

const OCI_ACCEPT =
  'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.index.v1+json';

/** The registry's answer to HEAD on a manifest (node's fetch, accepting OCI and Docker manifests). */
const manifestStatus = async (repo: string, ref: string) =>
  (
    await fetch(`http://${reg.host}/v2/${repo}/manifests/${ref}`, {
      method: 'HEAD',
      headers: {
        accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json',
      },
    })
  ).status;

async function verdict(repo: string, tag: string): Promise<TagVerdict> {
  const v = await reconcileTag(entry('off'), repo, tag, opts());
  if (!v) throw new Error(`${repo}:${tag} is not there`);
  return v;
}

async function run(quarantine: string, verdicts: TagVerdict[], state: WatchState): Promise<QuarantineResult[]> {
  const out: QuarantineResult[] = [];
  await quarantineVerdicts(entry(quarantine), verdicts, state, opts(), (_v, r) => out.push(r));
  return out;
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'portcullis-quarantine-'));
  reg = await startRegistry();
  const key = await runCli(['keygen', '--output-key-prefix', join(tmp, 'gate')], pw);
  expect(key.code, key.stderr).toBe(0);
  writeFileSync(
    join(tmp, 'trust.yaml'),
    `version: 1\nrepositories:\n  - match: ${reg.host}/prod/**\n    keys: [gate.pub]\n    attestations: [assessment]\n`,
  );
  await push('staging/app:1.0');
  const gate = await runCli(
    [
      'gate',
      `docker://${reg.host}/staging/app:1.0`,
      '--to',
      `${reg.host}/prod/app`,
      '--policy',
      writePolicy(tmp, 'passing', passingRules()),
      '--key',
      join(tmp, 'gate.key'),
      '--db',
      await exampleDb(tmp),
      '--insecure-registry',
      reg.host,
    ],
    pw,
  );
  expect(gate.code, gate.stdout + gate.stderr).toBe(0);
  await push('prod/dry:1');
  await push('prod/rogue:1');
}, 120_000);

afterAll(async () => {
  await reg?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('quarantine', () => {
  it('off does nothing; dry-run says it would delete and deletes nothing', async () => {
    const state = WatchState.open(':memory:');
    const v = await verdict('prod/dry', '1');
    expect(v.classification.status).toBe('unsigned');
    const from = reg.log().length;
    expect(await run('off', [v], state)).toEqual([]);
    const dry = await run('dry-run', [v, { ...v, tag: 'other' }], state);
    // Once per digest, however many tags name it.
    expect(dry).toEqual([{ outcome: 'would-delete', reason: 'dry-run: would delete (unsigned)' }]);
    expect(requests(reg, from).filter((l) => l.startsWith('DELETE'))).toEqual([]);
    expect(await manifestStatus('prod/dry', '1')).toBe(200);
    state.close();
  });

  it('delete removes an unsigned digest (by digest: DELETE /v2/<repo>/manifests/<digest>)', async () => {
    const state = WatchState.open(':memory:');
    const v = await verdict('prod/rogue', '1');
    expect(v.classification.status).toBe('unsigned');
    const from = reg.log().length;
    expect(await run('delete', [v], state)).toEqual([{ outcome: 'deleted', reason: 'deleted (unsigned)' }]);
    expect(await manifestStatus('prod/rogue', '1')).toBe(404);
    expect(await manifestStatus('prod/rogue', EXAMPLE_DIGEST)).toBe(404);
    // The same digest in other repositories is untouched.
    expect(await manifestStatus('prod/app', '1.0')).toBe(200);
    expect(await manifestStatus('prod/dry', '1')).toBe(200);
    expect(requests(reg, from).filter((l) => l.startsWith('DELETE'))).toEqual([
      `DELETE /v2/prod/rogue/manifests/${EXAMPLE_DIGEST} 202`,
    ]);
    state.close();
  });

  it('an approved digest is refused: checked again right before the delete, whatever the verdict claimed', async () => {
    const state = WatchState.open(':memory:');
    const approved = await verdict('prod/app', '1.0');
    expect(approved.classification.status).toBe('approved');
    // A verdict that went out of date (the gate approved the digest since): the recheck finds it approved.
    const outdated: TagVerdict = { ...approved, classification: { status: 'unsigned', detail: 'earlier' } };
    const from = reg.log().length;
    const [r] = await run('delete', [outdated], state);
    expect(r?.outcome).toBe('refused');
    expect(r?.reason).toMatch(/^checked again, the digest is approved now/);
    expect(requests(reg, from).filter((l) => l.startsWith('DELETE'))).toEqual([]);
    expect(await manifestStatus('prod/app', '1.0')).toBe(200);
    state.close();
  });

  it('a digest the state saw approved (stale now) is refused before any request; approved and stale never qualify', async () => {
    const state = WatchState.open(':memory:');
    const approved = await verdict('prod/app', '1.0');
    state.applyTag(approved, new Date());
    expect(state.wasApproved(reg.host, 'prod/app', EXAMPLE_DIGEST)).toBe(true);
    const failedNow: TagVerdict = { ...approved, classification: { status: 'failed', detail: 'x' } };
    const untouchable = {
      wasApproved: (d: string) => state.wasApproved(reg.host, 'prod/app', d),
      recheck: () => Promise.reject(new Error('must not be asked')),
      approvedReference: () => Promise.reject(new Error('must not be asked')),
      deleteManifest: () => Promise.reject(new Error('must not be called')),
    };
    expect(await quarantineDigest(failedNow, 'delete', untouchable)).toEqual({
      outcome: 'refused',
      reason: 'the gate approved this digest here before (it is stale, not rogue)',
    });
    const from = reg.log().length;
    expect((await run('delete', [failedNow], state)).map((r) => r.outcome)).toEqual(['refused']);
    expect(requests(reg, from).filter((l) => l.startsWith('DELETE'))).toEqual([]);
    for (const status of ['approved', 'stale', 'unknown-repository'] as const) {
      const v: TagVerdict = { ...approved, classification: { status, detail: 'x' } };
      expect(await run('delete', [v], state)).toEqual([]);
      const direct = await quarantineDigest(v, 'delete', {
        wasApproved: () => false,
        recheck: () => Promise.reject(new Error('must not be asked')),
        approvedReference: () => Promise.reject(new Error('must not be asked')),
        deleteManifest: () => Promise.reject(new Error('must not be called')),
      });
      expect(direct.outcome).toBe('refused');
    }
    expect(await manifestStatus('prod/app', '1.0')).toBe(200);
    state.close();
  });

  it("refuses a tagged copy of the gate's signature manifest: deleting it would remove the approved image's signature", async () => {
    const state = WatchState.open(':memory:');
    const sigTag = `${EXAMPLE_DIGEST.replace(':', '-')}.sig`;
    const sig = await fetch(`http://${reg.host}/v2/prod/app/manifests/${sigTag}`, { headers: { accept: OCI_ACCEPT } });
    expect(sig.status).toBe(200);
    const sigDigest = sig.headers.get('docker-content-digest');
    const put = await fetch(`http://${reg.host}/v2/prod/app/manifests/copy`, {
      method: 'PUT',
      headers: { 'content-type': sig.headers.get('content-type') ?? '' },
      body: Buffer.from(await sig.arrayBuffer()),
    });
    expect(put.status).toBe(201);
    const v = await verdict('prod/app', 'copy');
    expect(v.digest).toBe(sigDigest);
    expect(v.classification.status).toBe('unsigned');
    const from = reg.log().length;
    const [r] = await run('delete', [v], state);
    expect(r).toEqual({
      outcome: 'refused',
      reason: `the digest is the cosign manifest tagged ${sigTag}: deleting it would remove that signature or attestation`,
    });
    expect(requests(reg, from).filter((l) => l.startsWith('DELETE'))).toEqual([]);
    expect(await manifestStatus('prod/app', `${sigDigest}`)).toBe(200);
    expect(await manifestStatus('prod/app', sigTag)).toBe(200);
    expect((await verdict('prod/app', '1.0')).classification.status).toBe('approved');
    state.close();
  });

  it('refuses a platform manifest of an index the gate approved; the same child under an unapproved index qualifies', async () => {
    await push('prod/multi:child');
    const child = await fetch(`http://${reg.host}/v2/prod/multi/manifests/child`, { headers: { accept: OCI_ACCEPT } });
    const childBytes = Buffer.from(await child.arrayBuffer());
    const index = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          mediaType: child.headers.get('content-type'),
          digest: EXAMPLE_DIGEST,
          size: childBytes.length,
          platform: { architecture: 'amd64', os: 'linux' },
        },
      ],
    });
    const put = await fetch(`http://${reg.host}/v2/prod/multi/manifests/v1`, {
      method: 'PUT',
      headers: { 'content-type': 'application/vnd.oci.image.index.v1+json' },
      body: index,
    });
    expect(put.status).toBe(201);
    const indexDigest = put.headers.get('docker-content-digest') ?? '';
    const v = await verdict('prod/multi', 'child');
    expect(v.classification.status).toBe('unsigned');
    // Control: while nothing approved names the index, the child is a plain unsigned image.
    const state = WatchState.open(':memory:');
    expect(await run('dry-run', [v], state)).toEqual([
      { outcome: 'would-delete', reason: 'dry-run: would delete (unsigned)' },
    ]);
    // The state saw the index approved (the gate signs only an index's digest).
    state.applyTag(
      {
        host: reg.host,
        repository: 'prod/multi',
        tag: 'v1',
        digest: indexDigest,
        classification: { status: 'approved', detail: 'x' },
      },
      new Date(),
    );
    const from = reg.log().length;
    const [r] = await run('delete', [v], state);
    expect(r).toEqual({
      outcome: 'refused',
      reason: `the digest is a manifest of index ${indexDigest} (tag v1), which the gate approved`,
    });
    expect(requests(reg, from).filter((l) => l.startsWith('DELETE'))).toEqual([]);
    expect(await manifestStatus('prod/multi', EXAMPLE_DIGEST)).toBe(200);
    state.close();
  });

  it('a recheck that fails (registry unreachable) is a failed outcome, never a delete', async () => {
    const v = await verdict('prod/dry', '1');
    let deleted = false;
    const r = await quarantineDigest(v, 'delete', {
      wasApproved: () => false,
      recheck: () => Promise.reject(new Error('connect ECONNREFUSED')),
      approvedReference: async () => undefined,
      deleteManifest: async () => {
        deleted = true;
        return true;
      },
    });
    expect(r).toEqual({ outcome: 'failed', reason: 'connect ECONNREFUSED' });
    expect(deleted).toBe(false);
    // The same for the look-up of what refers to the digest (tag list, cosign tags, indexes).
    const r2 = await quarantineDigest(v, 'delete', {
      wasApproved: () => false,
      recheck: async () => v.classification,
      approvedReference: () => Promise.reject(new Error('tags of prod/dry: HTTP 404')),
      deleteManifest: async () => {
        deleted = true;
        return true;
      },
    });
    expect(r2).toEqual({ outcome: 'failed', reason: 'tags of prod/dry: HTTP 404' });
    expect(deleted).toBe(false);
  });
});
