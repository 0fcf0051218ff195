import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair, publicKeyPem } from '../../src/sign/keys.js';
import { parseWatchConfig, type WatchConfig } from '../../src/watch/config.js';
import { type WatchContext, Watcher } from '../../src/watch/daemon.js';
import { watchMetrics } from '../../src/watch/metrics.js';
import { quarantineVerdicts } from '../../src/watch/quarantine.js';
import { reconcile } from '../../src/watch/reconcile.js';
import { WatchState } from '../../src/watch/state.js';
import { FakeRegistry } from '../helpers/fakeregistry.js';

/**
 * Quarantine reads what refers to digests once per repository and step (the tag list once, each tag's manifest once),
 * not once per candidate digest; and alert delivery starts before quarantine runs. Oracles: the fake registry's
 * request log, and a sink that must have an alert before the registry answers the first DELETE.
 */

const TAGS = 30;
let tmp: string;
let reg: FakeRegistry;

function config(quarantine: string): WatchConfig {
  const text = [
    'apiVersion: portcullis.dev/v1alpha1',
    'kind: WatchConfig',
    'registries:',
    `  - { host: "${reg.host}", repositories: [prod/flood], trustPolicy: trust.yaml, maxAssessmentAge: 7d, quarantine: ${quarantine} }`,
  ].join('\n');
  return parseWatchConfig(text, join(tmp, 'watch.yaml'));
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'watch-qcost-'));
  reg = await new FakeRegistry().start();
  writeFileSync(join(tmp, 'gate.pub'), publicKeyPem(generateKeyPair().publicKey));
  writeFileSync(
    join(tmp, 'trust.yaml'),
    `version: 1\nrepositories:\n  - match: ${reg.host}/prod/**\n    keys: [gate.pub]\n`,
  );
  for (let i = 0; i < TAGS; i++) reg.putImage('prod/flood', `t${i}`, `t${i}`);
});

afterAll(async () => {
  await reg.close();
  rmSync(tmp, { recursive: true, force: true });
});

const opts = () => ({ registry: reg.options(), now: () => Date.now() });

describe('quarantine cost and alert latency', () => {
  it('lists the tags once per repository and step, however many digests qualify', async () => {
    const c = config('dry-run');
    const [inv] = await reconcile(c, opts());
    expect(inv?.verdicts.length).toBe(TAGS);
    const state = WatchState.open(':memory:');
    const from = reg.requests.length;
    const outcomes: string[] = [];
    await quarantineVerdicts(c.registries[0] as never, inv?.verdicts ?? [], state, opts(), (_v, r) =>
      outcomes.push(r.outcome),
    );
    state.close();
    expect(outcomes).toEqual(Array(TAGS).fill('would-delete'));
    const reqs = reg.requests.slice(from);
    expect(reqs.filter((r) => r.endsWith('/tags/list'))).toHaveLength(1);
    const byTag = reqs.filter((r) => r.startsWith('GET') && /\/manifests\/t\d+$/.test(r));
    expect(byTag).toHaveLength(TAGS);
  });

  it('delivers alerts before quarantine deletes', async () => {
    let received = 0;
    const sink: Server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        received++;
        res.writeHead(200);
        res.end();
      });
    });
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', () => r()));
    const a = sink.address();
    const port = typeof a === 'object' && a ? a.port : 0;
    const seenAtFirstDelete: number[] = [];
    reg.intercept = async (req) => {
      if (req.method !== 'DELETE') return false;
      // Give a delivery that runs beside quarantine the time to arrive; one that waits for quarantine never will.
      for (let i = 0; i < 100 && received === 0; i++) await sleep(20);
      seenAtFirstDelete.push(received);
      return false;
    };
    const state = WatchState.open(':memory:');
    try {
      const ctx: WatchContext = {
        config: config('delete'),
        state,
        registry: reg.options(),
        sinks: [{ name: 'ops', kind: 'webhook', url: `http://127.0.0.1:${port}/hook` }],
        log: () => {},
        metrics: watchMetrics(),
        now: Date.now,
      };
      const w = new Watcher(ctx);
      await (w as unknown as { fullReconcile(): Promise<void> }).fullReconcile.call(w);
      await w.stop(Promise.resolve());
      expect(seenAtFirstDelete.length).toBeGreaterThan(0);
      expect(seenAtFirstDelete[0]).toBeGreaterThan(0);
    } finally {
      reg.intercept = undefined;
      state.close();
      await new Promise<void>((r) => sink.close(() => r()));
    }
  });
});
