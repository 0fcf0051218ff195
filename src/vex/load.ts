import { fail, printable } from '../errors.js';
import { readBoundedFile } from '../util/boundedfile.js';
import { isCycloneDx, parseCycloneDxVex } from './cyclonedx.js';
import type { VexDocument, VexStatement } from './model.js';
import { isOpenVex, parseOpenVex } from './openvex.js';

/** VEX documents larger than this are refused before they are read. */
export const MAX_VEX_BYTES = 64 * 1024 * 1024;

/** Parse VEX text of either format; `file` names it in messages. Pure; throws VEX_INVALID. */
export function parseVex(text: string, file: string): VexDocument {
  let doc: unknown;
  try {
    doc = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (err) {
    fail('VEX_INVALID', `${file}: $: not valid JSON (${printable((err as Error).message, 120)})`);
  }
  if (isOpenVex(doc)) return parseOpenVex(doc, file);
  if (isCycloneDx(doc)) return parseCycloneDxVex(doc, file);
  fail('VEX_INVALID', `${file}: $: neither an OpenVEX document (@context ${'https://openvex.dev/ns'}) nor CycloneDX`);
}

/** Read and parse one VEX file, refusing files over MAX_VEX_BYTES. */
export function readVexFile(path: string): VexDocument {
  const r = readBoundedFile(path, MAX_VEX_BYTES);
  if (r.ok) return parseVex(r.bytes.toString('utf8'), path);
  switch (r.problem) {
    case 'missing':
      return fail('NOT_FOUND', `--vex ${path}: no such file`);
    case 'unreadable':
      return fail('VEX_INVALID', `${path}: cannot be read (${r.code ?? 'error'})`);
    case 'not-a-file':
      return fail('VEX_INVALID', `${path}: not a regular file`);
    case 'too-large':
      return fail('VEX_INVALID', `${path}: larger than ${MAX_VEX_BYTES / 1024 / 1024} MiB`);
  }
}

/** Read every `--vex` file in order (later files win ties between statements of the same time). */
export function readVexFiles(paths: readonly string[]): { statements: VexStatement[]; warnings: string[] } {
  const statements: VexStatement[] = [];
  const warnings: string[] = [];
  for (const p of paths) {
    const doc = readVexFile(p);
    statements.push(...doc.statements);
    warnings.push(...doc.warnings);
  }
  return { statements, warnings };
}
