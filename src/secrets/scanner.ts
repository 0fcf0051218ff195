import type { SecretHit } from '../checks/model.js';
import type { SecretSettings } from '../checks/settings.js';
import type { Collector, ContentRequest, StreamAnalyzer } from '../image/collect.js';
import type { FileInfo, FileTree } from '../image/filetree.js';
import type { ImageConfig } from '../oci/manifest.js';
import { builtinAllowed, globsRegExp } from './allow.js';
import { matchWhole, RuleSet, secretKey, type TextHit, TextMatcher } from './matcher.js';
import { isSecretName, isSecretValue } from './names.js';
import { clean, mask } from './redact.js';
import { ENV_SPACE_RULE, SECRET_RULES, type SecretRule, secretRule } from './rules.js';

/** Like git: a NUL in the first 8 KiB makes a file binary, and it is not read further. */
const BINARY_SNIFF = 8192;
/** Credential files (.npmrc, .env, ...) are read whole up to this size; past it, only the content rules run. */
const WHOLE_FILE_MAX = 256 * 1024;
/** Hits kept for one file, and for one scan: past these the rest is not reported. */
const MAX_HITS_PER_FILE = 100;
const MAX_HITS = 10_000;

const RULES = new RuleSet(SECRET_RULES);
const PATH_RULES = SECRET_RULES.filter((r) => r.paths);
/** Any credential-file path: one test per file before the rules' own. */
const ANY_PATH_RULE = new RegExp(PATH_RULES.map((r) => (r.paths as RegExp).source).join('|'), 'i');
const ENV_RULE = secretRule('env-secret');
/** Examples kept for each reason a file was not (fully) read. */
const MAX_EXAMPLES = 3;

/** Why a file's content was not (fully) read: counted, with a few example paths, for the run's notes. */
export type SkipReason = 'too-large' | 'binary' | 'hit-limit';
export interface SkipCount {
  count: number;
  readonly examples: string[];
}

/** Where package managers install libraries' sources: language package trees, Ruby gems, Go's and Tcl's sources. */
const PACKAGE_TREE =
  /(?:^|\/)(?:node_modules|site-packages|dist-packages)\/|(?:^|\/)gems\/[^/]+\/|^usr\/share\/tcltk\/|^usr\/(?:local\/go|lib\/go[^/]*)\/src\//;

/**
 * Finds secrets in every file of every layer (the walk shows each layer's entries, so files deleted later are seen
 * too), in the config (Env, Labels, history) and in Dockerfiles. Never keeps a secret in full.
 */
export class SecretScanner implements Collector {
  readonly name = 'secrets';
  readonly keepsOwnResults = true;
  /** Hits past the per-scan limit, not reported. */
  dropped = 0;
  /** Files (one per layer entry) not read, or read only in part, by reason; allow-listed and skipped paths are not. */
  readonly skipped: Record<SkipReason, SkipCount> = {
    'too-large': { count: 0, examples: [] },
    binary: { count: 0, examples: [] },
    'hit-limit': { count: 0, examples: [] },
  };
  private readonly found: SecretHit[] = [];
  private readonly skip: RegExp | undefined;
  private readonly plain: ContentRequest;

  constructor(private readonly settings: SecretSettings) {
    this.skip = globsRegExp(settings.skipPaths);
    this.plain = { kind: 'stream', create: (info) => new SecretAnalyzer(this, info, []) };
  }

  wants(info: FileInfo): ContentRequest | undefined {
    if (info.type !== 'file' || info.size === 0) return undefined;
    if (this.skip?.test(info.path) || (this.settings.builtinAllow && builtinAllowed(info.path))) return undefined;
    if (info.size > this.settings.maxFileBytes) {
      this.skipFile('too-large', info.path);
      return undefined;
    }
    if (!ANY_PATH_RULE.test(info.path)) return this.plain;
    const pathRules = PATH_RULES.filter((r) => r.paths?.test(info.path));
    if (pathRules.length === 0) return this.plain;
    return { kind: 'stream', create: (i) => new SecretAnalyzer(this, i, pathRules) };
  }

  /** @internal Count a file not read (or read in part) for this reason. */
  skipFile(reason: SkipReason, path: string): void {
    const s = this.skipped[reason];
    s.count++;
    if (s.examples.length < MAX_EXAMPLES) s.examples.push(`/${path}`);
  }

  /** One readable line per reason files were not read, and for hits past the reported limit; none when all was read. */
  notes(): string[] {
    const out: string[] = [];
    const eg = (s: SkipCount) => `(e.g. ${s.examples.join(', ')})`;
    const files = (n: number) => (n === 1 ? '1 file' : `${n} files`);
    const big = this.skipped['too-large'];
    if (big.count > 0)
      out.push(
        `secrets: ${files(big.count)} over the ${this.settings.maxFileBytes}-byte limit ${big.count === 1 ? 'was' : 'were'} not read ${eg(big)}; raise secrets.maxFileSize`,
      );
    // Binary files are skipped by design (documented), and every image has thousands: counted in `skipped`, not said.
    const full = this.skipped['hit-limit'];
    if (full.count > 0)
      out.push(
        `secrets: ${files(full.count)} had ${MAX_HITS_PER_FILE} matches and ${full.count === 1 ? 'was' : 'were'} not read further ${eg(full)}`,
      );
    if (this.dropped > 0)
      out.push(`secrets: ${this.dropped} more secret matches past the ${MAX_HITS} reported were not listed`);
    return out;
  }

  /** @internal Called by a file's analyzer when the file ends. */
  record(info: FileInfo, hits: readonly TextHit[]): void {
    const library = PACKAGE_TREE.test(info.path);
    for (const h of hits) {
      // Installed libraries' own code is full of example DSNs (`dotenv://:key_1234@dotenvx.com`): there only the
      // providers' token formats are reported, not what goes by shape or name.
      if (library && h.rule.confidence === 'medium' && !h.rule.paths) continue;
      if (this.found.length >= MAX_HITS) {
        this.dropped++;
        continue;
      }
      this.found.push({
        ruleId: h.rule.id,
        where: 'file',
        path: info.path,
        layer: info.layer,
        line: h.line,
        redacted: h.redacted,
        ...(h.rule.confidence ? { confidence: h.rule.confidence } : {}),
      });
    }
  }

  /**
   * The file hits of the walk, against the final tree: a hit whose file the tree no longer has from that layer
   * (deleted or replaced later) is `deleted: true`, as it is still shipped in its layer. De-duplicated, ordered.
   */
  finish(tree: FileTree): SecretHit[] {
    return order(
      this.found.map((h) => {
        const node = tree.lookup(h.path);
        const present = node !== undefined && node.info.layer === h.layer && node.info.type === 'file';
        return present ? h : { ...h, deleted: true };
      }),
    );
  }

  /**
   * Secrets in the config: Env (patterns and secret-named variables), Labels, and history commands. One secret is
   * reported once (by rule, name and value), where first seen: a build argument shows in every later history
   * entry, an ENV both in Env and in its history step.
   */
  scanConfig(config: ImageConfig): SecretHit[] {
    const out: SecretHit[] = [];
    const seen = new Set<string>();
    const add = (hit: SecretHit, masked: string): void => {
      const key = `${hit.ruleId}\0${masked}`;
      if (seen.has(key)) return;
      seen.add(key);
      out.push(hit);
    };
    for (const entry of config.config?.Env ?? []) {
      const eq = entry.indexOf('=');
      const name = eq >= 0 ? entry.slice(0, eq) : entry;
      for (const [h, m] of assignmentHits('env', name, eq >= 0 ? entry.slice(eq + 1) : '')) add(h, m);
    }
    for (const [name, value] of Object.entries(config.config?.Labels ?? {})) {
      for (const [h, m] of assignmentHits('label', name, value)) add(h, m);
    }
    (config.history ?? []).forEach((h, i) => {
      if (!h.created_by) return;
      for (const t of textHits(h.created_by)) add(hitOf(t, 'history', String(i)), t.masked);
    });
    return order(out);
  }

  /** Secrets in a Dockerfile: patterns, and secret-named `NAME=value` and `ENV NAME value` assignments. */
  scanText(text: string, path: string): SecretHit[] {
    return order(textHits(text).map((t) => ({ ...hitOf(t, 'dockerfile', path), line: t.line })));
  }
}

function hitOf(t: TextHit, where: SecretHit['where'], path: string): SecretHit {
  return {
    ruleId: t.rule.id,
    where,
    path,
    redacted: t.redacted,
    ...(t.rule.confidence ? { confidence: t.rule.confidence } : {}),
  };
}

/** The content rules over a text, then secret-named assignments that no pattern already matched inside. */
function textHits(text: string): TextHit[] {
  const m = new TextMatcher(RULES, MAX_HITS_PER_FILE);
  m.write(text);
  m.end();
  const named = matchWhole([ENV_RULE, ENV_SPACE_RULE], text, MAX_HITS_PER_FILE);
  const inside = (n: TextHit) => m.hits.some((h) => h.offset < n.end && h.end > n.offset);
  return [...m.hits, ...named.filter((n) => !inside(n))];
}

/** Hits of one `name=value` (Env, Labels), each with the key that tells its secret from others. */
function assignmentHits(where: 'env' | 'label', name: string, value: string): [SecretHit, string][] {
  const found = textHits(`${name}=${value}`).filter((h) => h.rule.id !== ENV_RULE.id);
  if (found.length > 0) return found.map((h) => [hitOf(h, where, name), h.masked]);
  if (!isSecretName(name) || !isSecretValue(value)) return [];
  const secret = mask(value.trim());
  const redacted = `${clean(name, 80)}=${secret}`;
  const hit: SecretHit = { ruleId: ENV_RULE.id, where, path: name, redacted, confidence: 'medium' };
  return [[hit, secretKey(name, value.trim())]];
}

const WHERE_ORDER = { file: 0, dockerfile: 0, env: 1, label: 2, history: 3 } as const;

function order(hits: readonly SecretHit[]): SecretHit[] {
  const seen = new Set<string>();
  const out: SecretHit[] = [];
  for (const h of hits) {
    const key = `${h.ruleId}\0${h.where}\0${h.path}\0${h.layer ?? ''}\0${h.line ?? ''}\0${h.redacted}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(h);
  }
  return out.sort(
    (a, b) =>
      WHERE_ORDER[a.where] - WHERE_ORDER[b.where] ||
      (a.layer ?? -1) - (b.layer ?? -1) ||
      (a.path < b.path ? -1 : a.path > b.path ? 1 : 0) ||
      (a.line ?? 0) - (b.line ?? 0) ||
      (a.ruleId < b.ruleId ? -1 : a.ruleId > b.ruleId ? 1 : 0),
  );
}

/** One file's scan: binary check, latin1 text through the prefilter, and the whole text for credential files. */
class SecretAnalyzer implements StreamAnalyzer {
  done = false;
  private binary = false;
  private pos = 0;
  private readonly text = new TextMatcher(RULES, MAX_HITS_PER_FILE);
  private whole: string[] | undefined;
  private wholeLength = 0;

  constructor(
    private readonly scanner: SecretScanner,
    private readonly info: FileInfo,
    private readonly pathRules: readonly SecretRule[],
  ) {
    if (pathRules.length > 0) this.whole = [];
  }

  write(chunk: Uint8Array): void {
    if (this.done) return;
    // Chunks are Buffers when the layer is read from a stream; a view costs an allocation per file otherwise.
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.pos < BINARY_SNIFF && buf.subarray(0, BINARY_SNIFF - this.pos).indexOf(0) >= 0) {
      this.binary = true; // what was found in its first bytes is dropped with it
      this.done = true;
      return;
    }
    this.pos += chunk.byteLength;
    const s = buf.toString('latin1');
    this.text.write(s);
    if (this.whole && this.wholeLength < WHOLE_FILE_MAX) {
      const part = s.slice(0, WHOLE_FILE_MAX - this.wholeLength);
      this.whole.push(part);
      this.wholeLength += part.length;
    }
    if (this.text.full && (!this.whole || this.wholeLength >= WHOLE_FILE_MAX)) this.done = true;
  }

  end(): void {
    if (this.binary) {
      this.scanner.skipFile('binary', this.info.path);
      return;
    }
    this.text.end();
    if (this.text.full) this.scanner.skipFile('hit-limit', this.info.path);
    let hits = [...this.text.hits];
    if (this.whole) {
      // A token a content rule already named on that line is not reported again as the file's credential; a
      // generic match (a URL password) yields to the file's own rule.
      const whole = matchWhole(this.pathRules, this.whole.join(''), MAX_HITS_PER_FILE);
      const wholeLines = new Set(whole.map((h) => h.line));
      hits = hits.filter((h) => !(h.rule.confidence && wholeLines.has(h.line)));
      const lines = new Set(hits.map((h) => h.line));
      hits.push(...whole.filter((h) => !lines.has(h.line)));
    }
    if (hits.length > 0) this.scanner.record(this.info, hits);
  }

  result(): number {
    return 0;
  }
}
