import { readLockYaml } from './lockyaml.js';
import { aliasTarget, isRecord, type Parsed, splitSpecifier } from './manifest.js';
import { type LockPackage, MAX_LOCK_ENTRIES } from './packagelock.js';

/** One resolved entry of a yarn.lock: the specifiers it satisfies and the dependency edges out of it. */
export interface YarnEntry {
  readonly specifiers: readonly string[];
  readonly name: string;
  readonly version: string;
  readonly resolved?: string;
  readonly integrity?: string;
  /** Specifiers (`name@range`) this entry depends on, in the lockfile's own spelling. */
  readonly dependencies: readonly string[];
  /** Workspace or link entries: the project's own folders, never reported. */
  readonly local: boolean;
}

/** Read one yarn-v1 token: a double-quoted JSON-style string or a bare word. */
function tokens(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < line.length) {
    const c = line[i];
    if (c === ' ' || c === '\t') {
      i++;
    } else if (c === '"') {
      let j = i + 1;
      let s = '';
      while (j < line.length && line[j] !== '"') {
        if (line[j] === '\\' && j + 1 < line.length) j++;
        s += line[j];
        j++;
      }
      out.push(s);
      i = j + 1;
    } else {
      let j = i;
      while (j < line.length && line[j] !== ' ' && line[j] !== '\t') j++;
      out.push(line.slice(i, j));
      i = j;
    }
  }
  return out;
}

/** Split a yarn-v1 entry header (`a@^1, "b@~2":`) into its specifiers. */
function headerSpecifiers(header: string): string[] {
  const out: string[] = [];
  for (const part of header.split(',')) {
    const t = part.trim();
    const s = t.startsWith('"') && t.endsWith('"') && t.length >= 2 ? t.slice(1, -1) : t;
    if (s) out.push(s);
  }
  return out;
}

function nameOf(specifiers: readonly string[]): string | undefined {
  const first = specifiers[0];
  return first ? splitSpecifier(first)?.name : undefined;
}

/**
 * Parse a classic yarn (v1) lockfile: a header line of specifiers at column 0, fields indented by
 * two spaces, and dependency maps indented by four (ref: yarn's src/lockfile/parse.js).
 */
export function parseYarnV1(text: string): Parsed<YarnEntry[]> {
  type Draft = { specifiers: string[]; fields: Map<string, string>; deps: string[] };
  const drafts: Draft[] = [];
  let cur: Draft | undefined;
  let section: string | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const indent = line.length - line.trimStart().length;
    if (indent === 0) {
      if (!trimmed.endsWith(':'))
        return { ok: false, reason: `yarn.lock line is not an entry header: ${trimmed.slice(0, 80)}` };
      if (drafts.length >= MAX_LOCK_ENTRIES)
        return { ok: false, reason: `yarn.lock has over ${MAX_LOCK_ENTRIES} entries` };
      cur = { specifiers: headerSpecifiers(trimmed.slice(0, -1)), fields: new Map(), deps: [] };
      drafts.push(cur);
      section = undefined;
    } else if (!cur) {
      return { ok: false, reason: 'yarn.lock has an indented line before any entry' };
    } else if (indent <= 2) {
      const t = tokens(trimmed);
      if (t.length === 1 && t[0]?.endsWith(':')) {
        section = t[0].slice(0, -1);
      } else {
        section = undefined;
        if (t[0] !== undefined && t[1] !== undefined) cur.fields.set(t[0], t[1]);
      }
    } else if (section === 'dependencies' || section === 'optionalDependencies') {
      const [name, range] = tokens(trimmed);
      if (name && range !== undefined) cur.deps.push(`${name}@${range}`);
    }
  }
  const out: YarnEntry[] = [];
  for (const d of drafts) {
    const version = d.fields.get('version');
    const name = nameOf(d.specifiers);
    if (!version || !name) continue;
    const range = splitSpecifier(d.specifiers[0] as string)?.range ?? '';
    const alias = aliasTarget(range);
    const resolved = d.fields.get('resolved');
    const integrity = d.fields.get('integrity');
    out.push({
      specifiers: d.specifiers,
      name: alias?.name ?? name,
      version,
      ...(resolved ? { resolved } : {}),
      ...(integrity ? { integrity } : {}),
      dependencies: d.deps,
      local: /^(file|link|workspace):/.test(range),
    });
  }
  return { ok: true, value: out };
}

/** Parse a yarn berry (v2+) lockfile, which is YAML with a `__metadata` entry (ref: yarnpkg berry Project.ts). */
export function parseYarnBerry(text: string): Parsed<YarnEntry[]> {
  const read = readLockYaml(text, 'yarn.lock');
  if (!read.ok) return read;
  const doc = read.value;
  if (!isRecord(doc)) return { ok: false, reason: 'yarn.lock is not a YAML mapping' };
  const keys = Object.keys(doc);
  if (keys.length > MAX_LOCK_ENTRIES) return { ok: false, reason: `yarn.lock has over ${MAX_LOCK_ENTRIES} entries` };
  const out: YarnEntry[] = [];
  for (const key of keys) {
    const entry = doc[key];
    if (key === '__metadata' || !isRecord(entry)) continue;
    const version = typeof entry['version'] === 'string' ? entry['version'] : undefined;
    const resolution = typeof entry['resolution'] === 'string' ? entry['resolution'] : undefined;
    const split = resolution ? splitSpecifier(resolution) : undefined;
    if (!version || !split) continue;
    const deps: string[] = [];
    for (const field of ['dependencies', 'optionalDependencies']) {
      const map = entry[field];
      if (!isRecord(map)) continue;
      for (const [dep, range] of Object.entries(map)) if (typeof range === 'string') deps.push(`${dep}@${range}`);
    }
    const checksum = typeof entry['checksum'] === 'string' ? entry['checksum'] : undefined;
    out.push({
      specifiers: headerSpecifiers(key),
      name: split.name,
      version,
      resolved: resolution as string,
      ...(checksum ? { integrity: checksum } : {}),
      dependencies: deps,
      local: /^(workspace|link|portal|file):/.test(split.range),
    });
  }
  return { ok: true, value: out };
}

/** Whether a yarn.lock is berry's YAML rather than the classic format. */
export function isYarnBerry(text: string): boolean {
  return /^__metadata:/m.test(text.slice(0, 4096));
}

/**
 * Production packages of a yarn.lock. yarn records no dev flag, so the project's own production
 * dependencies (from the package.json beside the lockfile) are followed through the lockfile's
 * edges; without that package.json every entry is reported.
 */
export function yarnProductionPackages(
  text: string,
  roots: ReadonlyMap<string, string> | undefined,
): Parsed<LockPackage[]> {
  const berry = isYarnBerry(text);
  const parsed = berry ? parseYarnBerry(text) : parseYarnV1(text);
  if (!parsed.ok) return parsed;
  const bySpec = new Map<string, YarnEntry>();
  for (const e of parsed.value) for (const s of e.specifiers) bySpec.set(s, e);
  // berry spells a plain range `name@npm:range` in its keys; v1 keeps what package.json said.
  const find = (spec: string): YarnEntry | undefined => {
    const hit = bySpec.get(spec);
    if (hit || !berry) return hit;
    const s = splitSpecifier(spec);
    return s ? bySpec.get(`${s.name}@npm:${s.range}`) : undefined;
  };
  let chosen: YarnEntry[];
  if (roots) {
    const seen = new Set<YarnEntry>();
    const stack = [...roots].map(([name, range]) => `${name}@${range}`);
    while (stack.length > 0) {
      const e = find(stack.pop() as string);
      if (!e || seen.has(e)) continue;
      seen.add(e);
      stack.push(...e.dependencies);
    }
    chosen = [...seen];
  } else {
    chosen = parsed.value;
  }
  return {
    ok: true,
    value: chosen
      .filter((e) => !e.local)
      .map((e) => ({
        name: e.name,
        version: e.version,
        ...(e.resolved ? { resolved: e.resolved } : {}),
        ...(e.integrity ? { integrity: e.integrity } : {}),
      })),
  };
}
