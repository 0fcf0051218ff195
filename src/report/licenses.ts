import { createRequire } from 'node:module';
import parse, { type SpdxLeaf, type SpdxNode } from 'spdx-expression-parse';
import { lookup } from '../util/record.js';
import { SPDX_LIST_IDS } from './spdx-list.generated.js';

const require = createRequire(import.meta.url);
const IDS: ReadonlySet<string> = new Set(require('spdx-license-ids') as string[]);
const DEPRECATED: readonly string[] = require('spdx-license-ids/deprecated.json') as string[];
const LOWER = new Map([...IDS, ...DEPRECATED].map((id) => [id.toLowerCase(), id]));

/** Licences SBOMs name by id: current ids on the list CycloneDX 1.6 ships (SPDX_LIST_VERSION). */
const LISTED: ReadonlySet<string> = new Set(SPDX_LIST_IDS.filter((id) => IDS.has(id)));
/** That list's exceptions: its ids that are not licences. */
const LISTED_EXCEPTIONS: ReadonlySet<string> = new Set(
  SPDX_LIST_IDS.filter((id) => !IDS.has(id) && !DEPRECATED.includes(id)),
);

/** Deprecated ids for a licence version: NAME-only, or NAME-or-later with `+`. */
const VERSIONED: ReadonlySet<string> = new Set(
  ['AGPL-1.0', 'AGPL-3.0', 'GFDL-1.1', 'GFDL-1.2', 'GFDL-1.3', 'GPL-1.0', 'GPL-2.0', 'GPL-3.0'].concat([
    'LGPL-2.0',
    'LGPL-2.1',
    'LGPL-3.0',
  ]),
);

/** The other deprecated ids (spdx-license-ids/deprecated.json) the SPDX list names a replacement for. */
const REPLACED: Readonly<Record<string, SpdxLeaf>> = {
  'GPL-2.0-with-GCC-exception': { license: 'GPL-2.0-only', exception: 'GCC-exception-2.0' },
  'GPL-2.0-with-autoconf-exception': { license: 'GPL-2.0-only', exception: 'Autoconf-exception-2.0' },
  'GPL-2.0-with-bison-exception': { license: 'GPL-2.0-only', exception: 'Bison-exception-2.2' },
  'GPL-2.0-with-classpath-exception': { license: 'GPL-2.0-only', exception: 'Classpath-exception-2.0' },
  'GPL-2.0-with-font-exception': { license: 'GPL-2.0-only', exception: 'Font-exception-2.0' },
  'GPL-3.0-with-GCC-exception': { license: 'GPL-3.0-only', exception: 'GCC-exception-3.1' },
  'GPL-3.0-with-autoconf-exception': { license: 'GPL-3.0-only', exception: 'Autoconf-exception-3.0' },
  'eCos-2.0': { license: 'GPL-2.0-or-later', exception: 'eCos-exception-2.0' },
  wxWindows: { license: 'LGPL-2.0-or-later', exception: 'WxWindows-exception-3.1' },
  'BSD-2-Clause-FreeBSD': { license: 'BSD-2-Clause-Views' },
  'BSD-2-Clause-NetBSD': { license: 'BSD-2-Clause' },
  Nunit: { license: 'zlib-acknowledgement' },
  'StandardML-NJ': { license: 'SMLNJ' },
  'bzip2-1.0.5': { license: 'bzip2-1.0.6' },
};

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

/**
 * A declared licence, classified for SBOM writers. `unlisted` names the licences of an expression that the list
 * CycloneDX ships does not have (LicenseRef-s, DocumentRef-s, newer ids, deprecated ids without a replacement, and
 * `X+` for any X).
 */
export type LicenseInfo =
  | { readonly kind: 'id'; readonly id: string }
  | { readonly kind: 'expression'; readonly expression: string; readonly unlisted: readonly string[] }
  | { readonly kind: 'name'; readonly name: string };

function parsed(text: string): SpdxNode | undefined {
  try {
    return parse(text);
  } catch {
    return undefined;
  }
}

/** A licence with its deprecated id replaced; undefined when that makes two exceptions or one not listed. */
function currentLeaf(l: SpdxLeaf): SpdxLeaf | undefined {
  const r = VERSIONED.has(l.license) ? { license: `${l.license}-only` } : REPLACED[l.license];
  if (r?.exception && l.exception) return undefined;
  const exception = l.exception ?? r?.exception;
  if (exception && !LISTED_EXCEPTIONS.has(exception)) return undefined;
  if (!r) return l;
  // `+` on a versioned licence is its -or-later id.
  const later = l.plus === true && /-(only|or-later)$/.test(r.license);
  const license = later ? r.license.replace(/-only$/, '-or-later') : r.license;
  return { license, ...(l.plus && !later ? { plus: true } : {}), ...(exception ? { exception } : {}) };
}

function current(n: SpdxNode): SpdxNode | undefined {
  if ('license' in n) return currentLeaf(n);
  const left = current(n.left);
  const right = current(n.right);
  return left && right ? { left, conjunction: n.conjunction, right } : undefined;
}

function render(n: SpdxNode, outer?: 'and' | 'or'): string {
  if ('license' in n) return `${n.license}${n.plus ? '+' : ''}${n.exception ? ` WITH ${n.exception}` : ''}`;
  const text = `${render(n.left, n.conjunction)} ${n.conjunction.toUpperCase()} ${render(n.right, n.conjunction)}`;
  return outer && outer !== n.conjunction ? `(${text})` : text;
}

/** A licence as one name: `X+` (X or any later version) has no id of its own on the list. */
function nameOf(l: SpdxLeaf): string {
  return `${l.license}${l.plus ? '+' : ''}`;
}

function rename(n: SpdxNode, as: (license: string) => string): SpdxNode {
  if (!('license' in n)) return { ...n, left: rename(n.left, as), right: rename(n.right, as) };
  const name = as(nameOf(n));
  return name === nameOf(n) ? n : { license: name, ...(n.exception ? { exception: n.exception } : {}) };
}

function licensesOf(n: SpdxNode): string[] {
  return 'license' in n ? [nameOf(n)] : [...licensesOf(n.left), ...licensesOf(n.right)];
}

/** A single SPDX id a licence string names: an id in any case, a Debian short name or a well-known URL. */
function knownId(text: string): string | undefined {
  if (IDS.has(text)) return text;
  return (
    LOWER.get(text.toLowerCase()) ?? lookup(DEBIAN_NAMES, text.toLowerCase()) ?? URLS.find(([re]) => re.test(text))?.[1]
  );
}

function looksLikeExpression(text: string): boolean {
  return /\s(AND|OR|WITH)\s/.test(text) || text.startsWith('(') || /^[A-Za-z0-9.+-]+$/.test(text);
}

/** Classify a licence string as a listed SPDX id, an SPDX expression (deprecated ids replaced), or a free-form name. */
export function classifyLicense(raw: string): LicenseInfo {
  const text = raw.trim();
  const id = knownId(text);
  const tree = id ? { license: id } : looksLikeExpression(text) ? parsed(text) : undefined;
  const now = tree && current(tree);
  if (!now) return { kind: 'name', name: text };
  if ('license' in now && !now.plus && !now.exception && LISTED.has(now.license))
    return { kind: 'id', id: now.license };
  const unlisted = [...new Set(licensesOf(now).filter((l) => !LISTED.has(l)))];
  return { kind: 'expression', expression: render(now), unlisted };
}

/** An expression classifyLicense returned, with licences renamed (e.g. unlisted ones to declared LicenseRef-s). */
export function renameLicenses(expression: string, as: (license: string) => string): string {
  return render(rename(parse(expression), as));
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
