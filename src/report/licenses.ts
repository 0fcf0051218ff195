import { createRequire } from 'node:module';
import parse from 'spdx-expression-parse';
import { lookup } from '../util/record.js';

const require = createRequire(import.meta.url);
const IDS: ReadonlySet<string> = new Set(require('spdx-license-ids') as string[]);
const LOWER = new Map([...IDS].map((id) => [id.toLowerCase(), id]));

/** Debian copyright short names (ref: DEP-5 "License specification") that map cleanly to SPDX ids. */
const DEBIAN_NAMES: Record<string, string> = {
  'gpl-1': 'GPL-1.0-only',
  'gpl-1+': 'GPL-1.0-or-later',
  'gpl-2': 'GPL-2.0-only',
  'gpl-2+': 'GPL-2.0-or-later',
  'gpl-3': 'GPL-3.0-only',
  'gpl-3+': 'GPL-3.0-or-later',
  'lgpl-2': 'LGPL-2.0-only',
  'lgpl-2+': 'LGPL-2.0-or-later',
  'lgpl-2.1': 'LGPL-2.1-only',
  'lgpl-2.1+': 'LGPL-2.1-or-later',
  'lgpl-3': 'LGPL-3.0-only',
  'lgpl-3+': 'LGPL-3.0-or-later',
  'agpl-3': 'AGPL-3.0-only',
  'agpl-3+': 'AGPL-3.0-or-later',
  'gfdl-1.2': 'GFDL-1.2-only',
  'gfdl-1.2+': 'GFDL-1.2-or-later',
  'gfdl-1.3': 'GFDL-1.3-only',
  'gfdl-1.3+': 'GFDL-1.3-or-later',
  expat: 'MIT',
  'bsd-2-clause': 'BSD-2-Clause',
  'bsd-3-clause': 'BSD-3-Clause',
  'bsd-4-clause': 'BSD-4-Clause',
  'apache-2': 'Apache-2.0',
  'apache-2.0': 'Apache-2.0',
  'artistic-1': 'Artistic-1.0',
  'artistic-2': 'Artistic-2.0',
  'mpl-1.1': 'MPL-1.1',
  'mpl-2.0': 'MPL-2.0',
  zlib: 'Zlib',
  isc: 'ISC',
  'psf-2': 'PSF-2.0',
  'cc0-1.0': 'CC0-1.0',
};

/** Licence URLs that Maven and Bundle-License fields use in place of a name. */
const URLS: [RegExp, string][] = [
  [/^https?:\/\/(www\.)?apache\.org\/licenses\/LICENSE-2\.0(\.txt|\.html)?$/i, 'Apache-2.0'],
  [/^https?:\/\/(www\.)?opensource\.org\/licenses\/(mit|mit-license)(\.php)?$/i, 'MIT'],
  [/^https?:\/\/(www\.)?opensource\.org\/licenses\/bsd-license(\.php)?$/i, 'BSD-2-Clause'],
  [/^https?:\/\/(www\.)?opensource\.org\/licenses\/BSD-3-Clause$/i, 'BSD-3-Clause'],
  [/^https?:\/\/(www\.)?eclipse\.org\/legal\/epl-2\.0\/?$/i, 'EPL-2.0'],
  [/^https?:\/\/(www\.)?eclipse\.org\/legal\/epl-v10\.html$/i, 'EPL-1.0'],
  [/^https?:\/\/(www\.)?gnu\.org\/licenses\/lgpl-2\.1(\.html|\.txt)?$/i, 'LGPL-2.1-only'],
  [/^https?:\/\/(www\.)?mozilla\.org\/MPL\/2\.0\/?$/i, 'MPL-2.0'],
];

/** A declared licence, classified for SBOM writers. */
export type LicenseInfo =
  | { readonly kind: 'id'; readonly id: string }
  | { readonly kind: 'expression'; readonly expression: string }
  | { readonly kind: 'name'; readonly name: string };

function validExpression(text: string): boolean {
  try {
    parse(text);
    return true;
  } catch {
    return false;
  }
}

/** Classify a licence string as an SPDX id, an SPDX expression, or a free-form name. */
export function classifyLicense(raw: string): LicenseInfo {
  const text = raw.trim();
  const id =
    (IDS.has(text) ? text : (LOWER.get(text.toLowerCase()) ?? lookup(DEBIAN_NAMES, text.toLowerCase()))) ??
    URLS.find(([re]) => re.test(text))?.[1];
  if (id) return { kind: 'id', id };
  if (/\s(AND|OR|WITH)\s/.test(text) || text.startsWith('(')) {
    if (validExpression(text)) return { kind: 'expression', expression: text };
  }
  if (/^[A-Za-z0-9.+-]+$/.test(text) && validExpression(text)) return { kind: 'expression', expression: text };
  return { kind: 'name', name: text };
}

/** A single valid SPDX expression for a package's licences, or undefined when any is not SPDX. */
export function spdxExpression(licenses: readonly string[]): string | undefined {
  const parts: string[] = [];
  for (const l of licenses) {
    const c = classifyLicense(l);
    if (c.kind === 'name') return undefined;
    const text = c.kind === 'id' ? c.id : c.expression;
    parts.push(licenses.length > 1 && c.kind === 'expression' ? `(${text})` : text);
  }
  return parts.length ? [...new Set(parts)].join(' AND ') : undefined;
}
