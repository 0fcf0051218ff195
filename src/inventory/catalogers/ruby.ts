import type { FsNode } from '../../image/filetree.js';
import { introducedLayer } from '../../image/filetree.js';
import type { CatalogContext, Cataloger, Package } from '../model.js';
import { purl } from '../purl.js';

/**
 * Ruby: installed gem specifications, `<gem home>/specifications/*.gemspec` and the default gems'
 * `specifications/default/*.gemspec`. RubyGems writes these with `Gem::Specification#to_ruby` in a
 * regular shape (`s.name = "x".freeze`, `s.version = "1.2.3"`, `s.licenses = ["MIT".freeze]`, and a
 * `# stub: name version platform` first line); the assignments are read with bounded regular
 * expressions, never evaluated.
 */
const NAME = 'ruby';
const SPEC_PATH = /(?:^|\/)specifications\/(default\/)?[^/]+\.gemspec$/;
/** Longest line looked at; the `s.files` list can be long, and is never needed. */
const MAX_LINE = 64 * 1024;
const MAX_LICENSES = 16;

const ASSIGNMENT = /^\s{0,16}[a-z_][a-z0-9_]{0,31}\.(name|version|licenses?|platform)\s{0,8}=\s{0,8}(.*)$/;
const DOUBLE = /"((?:[^"\\]|\\.){0,1024})"/y;
const SINGLE = /'((?:[^'\\]|\\.){0,1024})'/y;
const PERCENT = /%q(?:\{([^}]{0,1024})\}|\(([^)]{0,1024})\)|<([^>]{0,1024})>|\[([^\]]{0,1024})\])/y;
const VERSION_NEW = /Gem::Version\.new\(\s{0,8}/y;
const STUB = /^# stub: (\S{1,256}) (\S{1,256}) (\S{1,256})/m;

/** A gem as its installed specification declares it. */
export interface GemSpec {
  readonly name: string;
  readonly version: string;
  readonly licenses: string[];
  /** `ruby` for pure gems, else the platform of a native build (e.g. `x86_64-linux`). */
  readonly platform: string;
}

function unescapeDouble(s: string): string {
  return s.replace(/\\(u\{[0-9a-fA-F]{1,6}\}|u[0-9a-fA-F]{4}|x[0-9a-fA-F]{1,2}|.)/g, (_, e: string) => {
    if (e.startsWith('u{')) return String.fromCodePoint(Math.min(Number.parseInt(e.slice(2, -1), 16), 0x10ffff));
    if (e.length > 1 && (e[0] === 'u' || e[0] === 'x')) return String.fromCharCode(Number.parseInt(e.slice(1), 16));
    return e === 'n' ? '\n' : e === 't' ? '\t' : e;
  });
}

/** Read one Ruby string literal at `at`: "..." (with escapes), '...', or %q delimiters. */
function stringAt(text: string, at: number): { value: string; end: number } | undefined {
  for (const [re, decode] of [
    [DOUBLE, unescapeDouble],
    [SINGLE, (s: string) => s.replace(/\\([\\'])/g, '$1')],
    [PERCENT, (s: string) => s],
  ] as const) {
    re.lastIndex = at;
    const m = re.exec(text);
    if (m) return { value: decode(m[1] ?? m[2] ?? m[3] ?? m[4] ?? ''), end: re.lastIndex };
  }
  return undefined;
}

/** The strings of an assignment's right-hand side: one literal, `Gem::Version.new("...")`, or an array of literals. */
export function rubyStrings(rhs: string): string[] {
  let at = 0;
  VERSION_NEW.lastIndex = 0;
  if (VERSION_NEW.exec(rhs)) at = VERSION_NEW.lastIndex;
  if (rhs[at] !== '[') {
    const one = stringAt(rhs, at);
    return one ? [one.value] : [];
  }
  const out: string[] = [];
  at++;
  while (at < rhs.length && out.length < MAX_LICENSES) {
    const c = rhs[at];
    if (c === ']') break;
    if (c === ' ' || c === ',' || c === '\t') {
      at++;
      continue;
    }
    const s = stringAt(rhs, at);
    if (!s) break;
    out.push(s.value);
    at = s.end;
    if (rhs.startsWith('.freeze', at)) at += '.freeze'.length;
  }
  return out;
}

/** Parse an installed gemspec; undefined when it names no gem and version. */
export function parseGemspec(text: string): GemSpec | undefined {
  const found = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    if (line.length > MAX_LINE) continue;
    const m = ASSIGNMENT.exec(line);
    if (!m) continue;
    const field = m[1] === 'license' ? 'licenses' : (m[1] as string);
    if (found.has(field)) continue; // the first assignment is the one RubyGems wrote
    found.set(field, rubyStrings(m[2] as string));
  }
  const stub = STUB.exec(text.slice(0, 1024));
  const name = found.get('name')?.[0] ?? stub?.[1];
  const version = found.get('version')?.[0] ?? stub?.[2];
  if (!name || !version || name.length > 256 || version.length > 256) return undefined;
  const platform = found.get('platform')?.[0] ?? stub?.[3] ?? 'ruby';
  return {
    name,
    version,
    licenses: [...new Set((found.get('licenses') ?? []).map((l) => l.trim()).filter(Boolean))],
    platform,
  };
}

/** The Ruby cataloger: one package per installed gemspec. */
export const rubyCataloger: Cataloger = {
  name: NAME,
  version: 1,
  tags: ['language'],
  wants(info) {
    return SPEC_PATH.test(info.path) ? { kind: 'buffer' } : undefined;
  },
  catalog(ctx: CatalogContext): Package[] {
    const out: Package[] = [];
    for (const node of ctx.tree.wanted(NAME)) {
      if (node.info.type !== 'file' && node.info.type !== 'hardlink') continue;
      const m = SPEC_PATH.exec(node.info.path);
      if (!m) continue;
      const p = fromNode(ctx, node, m[1] !== undefined);
      if (p) out.push(p);
    }
    return out;
  },
};

function fromNode(ctx: CatalogContext, node: FsNode, isDefault: boolean): Package | undefined {
  const { path } = node.info;
  const layer = introducedLayer(node);
  if (!node.content) {
    ctx.unknown({ path, layer, message: node.missing ?? 'gemspec content was not collected', fatal: false });
    return undefined;
  }
  const spec = parseGemspec(node.content.toString('utf8'));
  if (!spec) {
    ctx.unknown({ path, layer, message: 'gemspec has no readable name and version assignment', fatal: false });
    return undefined;
  }
  let id: string;
  try {
    id = purl('gem', undefined, spec.name, spec.version, {
      platform: spec.platform !== 'ruby' ? spec.platform : undefined,
    });
  } catch (err) {
    ctx.unknown({ path, layer, message: `gem name ${JSON.stringify(spec.name)}: ${String(err)}`, fatal: false });
    return undefined;
  }
  const home = path.slice(0, path.lastIndexOf(isDefault ? '/specifications/default/' : '/specifications/') + 1);
  return {
    name: spec.name,
    version: spec.version,
    type: 'gem',
    purl: id,
    licenses: spec.licenses,
    locations: [{ path, layer }],
    layer,
    foundBy: NAME,
    metadata: {
      gemHome: home.replace(/\/$/, ''),
      ...(isDefault ? { default: true } : {}),
      ...(spec.platform !== 'ruby' ? { platform: spec.platform } : {}),
    },
  };
}
