import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PortcullisError } from '../../src/errors.js';
import { assess } from '../../src/gate/assess.js';
import { openOciLayout } from '../../src/oci/layout.js';
import { loadPolicy } from '../../src/policy/load.js';
import { AdvisoryDb } from '../../src/store/advisorydb.js';
import { exampleDb, passingRules, writePolicy, writeVariants } from '../helpers/gate.js';

let dir: string;
let db: AdvisoryDb;
let variants: ReturnType<typeof writeVariants>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'portcullis-assess-'));
  variants = writeVariants(join(dir, 'variants'));
  db = AdvisoryDb.open(await exampleDb(dir));
});

afterAll(() => {
  db?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function assessRef(ref: string) {
  const source = openOciLayout(join(dir, 'variants'), ref);
  try {
    return await assess({
      source,
      policy: loadPolicy(writePolicy(dir, `p-${ref}`, passingRules())),
      advisories: db,
      database: { path: db.path, updated: null },
      vex: [],
      now: new Date('2026-11-30T00:00:00Z'),
      limits: {},
      warn: () => {},
    });
  } finally {
    await source.close();
  }
}

describe('the gate assesses everything it would promote', () => {
  it('a build attestation (an image manifest under platform unknown/unknown) is copied unassessed', async () => {
    const a = await assessRef('multi');
    expect(a.platforms.map((p) => p.inv.subject.digest)).toEqual(variants.children);
  });

  it('an image behind a nested index beside other entries is assessed, not refused or left out', async () => {
    const a = await assessRef('nested');
    expect(a.platforms.map((p) => p.inv.subject.digest)).toEqual(variants.children);
  });

  it('an index listed under platform unknown is refused: pulled by its digest, it would run what it lists', async () => {
    const err = await assessRef('smuggled').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PortcullisError);
    expect((err as PortcullisError).code).toBe('MANIFEST_INVALID');
    expect((err as Error).message).toMatch(/lists the index sha256:[0-9a-f]{64} under platform unknown/);
  });
});
