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

/** Validate a SARIF log against the OASIS SARIF 2.1.0 JSON schema (as shipped by the schemastore package). */
export function validateSarif(doc: unknown): string[] {
  const file = join(dirname(require.resolve('schemastore/package.json')), 'schemas', 'json', 'sarif-2.1.0.json');
  // The schema's `language` pattern has a stray ']' that only non-Unicode regular expressions read (as a literal).
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true, unicodeRegExp: false });
  (addFormats as unknown as (a: Ajv) => void)(ajv);
  const validate = ajv.compile(JSON.parse(readFileSync(file, 'utf8')));
  return validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}

/** One problem Microsoft's SARIF multitool reports: its rule id (SARIFnnnn, GHnnnn), level and message. */
export interface MultitoolProblem {
  readonly rule: string;
  readonly level: string;
  readonly message: string;
}

/**
 * Validate a SARIF log with Microsoft's SARIF multitool (its SARIF and GitHub code-scanning rules), a self-contained
 * binary that `npm run setup` installs into the cache; it runs offline. Returns every error and warning it reports.
 */
export function multitoolValidate(doc: unknown): MultitoolProblem[] {
  const tool = join(CACHE, 'sarif-multitool', 'node_modules', '@microsoft', 'sarif-multitool-linux', 'Sarif.Multitool');
  const dir = mkdtempSync(join(tmpdir(), 'sarif-'));
  const input = join(dir, 'log.sarif');
  const output = join(dir, 'validation.sarif');
  writeFileSync(input, JSON.stringify(doc, null, 2));
  execFileSync(tool, ['validate', input, '--rule-kind', 'Sarif;Gh', '-o', output, '--log', 'ForceOverwrite'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // Invariant globalization: the .NET runtime inside then needs no ICU library on the machine.
    env: { ...process.env, DOTNET_SYSTEM_GLOBALIZATION_INVARIANT: '1', DOTNET_CLI_TELEMETRY_OPTOUT: '1' },
  });
  const log = JSON.parse(readFileSync(output, 'utf8')) as {
    runs: {
      results?: { ruleId: string; level?: string; message: { text?: string; id?: string; arguments?: string[] } }[];
      tool: { driver: { rules?: { id: string; messageStrings?: Record<string, { text: string }> }[] } };
    }[];
  };
  const out: MultitoolProblem[] = [];
  for (const run of log.runs) {
    for (const r of run.results ?? []) {
      const level = r.level ?? 'warning';
      if (level !== 'error' && level !== 'warning') continue;
      const rule = run.tool.driver.rules?.find((x) => x.id === r.ruleId);
      const template = r.message.id ? rule?.messageStrings?.[r.message.id]?.text : undefined;
      const message =
        r.message.text ??
        (template ?? '').replace(/\{(\d+)\}/g, (_, i: string) => r.message.arguments?.[Number(i)] ?? '');
      out.push({ rule: r.ruleId, level, message });
    }
  }
  return out;
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
