import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { AJV_OPTIONS, schemaFingerprint } from '../../src/policy/schema.js';
import { ROOT } from '../helpers/paths.js';

const require = createRequire(import.meta.url);

/** Documents each schema sees: the repository's examples and a few broken shapes. */
const SAMPLES: unknown[] = [
  parse(readFileSync(join(ROOT, 'examples', 'policy.yaml'), 'utf8')),
  {},
  { version: 1, rules: { vulnerabilities: { maxSeverity: 'bogus' } }, extra: [1, 2] },
  { apiVersion: 'portcullis.dev/v1', kind: 'Policy', name: 7, rules: { labels: { required: 'x' } } },
  [],
  'text',
];

describe('validators compiled at build time (dist/validators)', () => {
  const schemas = readdirSync(join(ROOT, 'schemas')).filter((f) => f.endsWith('.schema.json'));

  it('exist for every published schema, fingerprinted as src/policy/schema.ts checks, and judge as Ajv does', () => {
    expect(schemas.length).toBeGreaterThanOrEqual(9);
    for (const name of schemas) {
      const schema = JSON.parse(readFileSync(join(ROOT, 'schemas', name), 'utf8'));
      const built = require(join(ROOT, 'dist', 'validators', name.replace(/\.json$/, '.cjs'))) as ValidateFunction & {
        fingerprint: string;
      };
      expect(built.fingerprint, name).toBe(schemaFingerprint(schema));
      const fresh = new Ajv(AJV_OPTIONS).compile(schema);
      for (const doc of SAMPLES) {
        expect(built(doc), name).toBe(fresh(doc));
        expect(built.errors ?? null, name).toEqual(fresh.errors ?? null);
      }
    }
  });
});
