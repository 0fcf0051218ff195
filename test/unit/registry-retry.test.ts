import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PortcullisError } from '../../src/errors.js';
import { RegistryClient } from '../../src/oci/registry/client.js';
import { FakeRegistry } from '../helpers/fakeregistry.js';

let reg: FakeRegistry;
beforeAll(async () => {
  reg = await new FakeRegistry().start();
});
afterAll(() => reg.close());

/** The waits between five attempts at a manifest the registry always answers with `status` (and `headers`). */
async function delays(status: number, headers: Record<string, string> = {}): Promise<number[]> {
  reg.intercept = (_req, res) => {
    res.writeHead(status, headers);
    res.end();
    return true;
  };
  const waits: number[] = [];
  const client = new RegistryClient(reg.host, {
    insecureRegistries: [reg.host],
    retries: 5,
    backoffMs: 100,
    env: {},
    sleep: async (ms) => {
      waits.push(ms);
    },
  });
  try {
    const err = await client.fetch('/v2/app/manifests/1', 'app', { what: 'manifest app:1' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PortcullisError);
    expect((err as Error).message).toMatch(/gave up after 5 attempts/);
    return waits;
  } finally {
    client.close();
    reg.intercept = undefined;
  }
}

/** Each wait within the doubling backoff with jitter: [b·2^i, 2·b·2^i). */
function expectBackoff(waits: readonly number[]): void {
  expect(waits).toHaveLength(4);
  waits.forEach((ms, i) => {
    expect(ms).toBeGreaterThanOrEqual(100 * 2 ** i);
    expect(ms).toBeLessThan(200 * 2 ** i);
  });
}

describe('waits between retries', () => {
  it('a 5xx backs off, doubling', async () => {
    expectBackoff(await delays(503));
  });

  it('a 429 without Retry-After backs off like a 5xx, not at once', async () => {
    expectBackoff(await delays(429));
  });

  it('a 429 with Retry-After waits as long as it says', async () => {
    expect(await delays(429, { 'retry-after': '2' })).toEqual([2000, 2000, 2000, 2000]);
  });
});
