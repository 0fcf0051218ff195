import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { CACHE } from './paths.js';

const require = createRequire(import.meta.url);

/** Validate a document against the official CycloneDX 1.6 JSON schema (as shipped by @cyclonedx/cyclonedx-library). */
export function validateCycloneDx(doc: unknown): string[] {
  const dir = join(dirname(require.resolve('@cyclonedx/cyclonedx-library/package.json')), 'res', 'schema');
  const load = (f: string) => JSON.parse(readFileSync(join(dir, f), 'utf8'));
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
  (addFormats as unknown as (a: Ajv) => void)(ajv);
  // The bom schema refers to its companions relative to its own $id.
  for (const f of [
    'spdx.SNAPSHOT.schema.json',
    'jsf-0.82.SNAPSHOT.schema.json',
    'cryptography-defs.SNAPSHOT.schema.json',
  ]) {
    ajv.addSchema({ ...load(f), $id: `http://cyclonedx.org/schema/${f}` });
  }
  const validate = ajv.compile(load('bom-1.6.SNAPSHOT.schema.json'));
  return validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}

/** Validate SPDX 2.3 JSON with the SPDX project's own tool (pyspdxtools), installed by `npm run setup`. */
export function validateSpdx(doc: unknown): string {
  const file = join(mkdtempSync(join(tmpdir(), 'spdx-')), 'doc.spdx.json');
  writeFileSync(file, JSON.stringify(doc));
  return execFileSync(join(CACHE, 'venv', 'bin', 'pyspdxtools'), ['-i', file], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}
