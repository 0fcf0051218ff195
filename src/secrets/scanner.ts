import type { SecretHit } from '../checks/model.js';
import type { SecretSettings } from '../checks/settings.js';
import type { Collector, ContentRequest, StreamAnalyzer } from '../image/collect.js';
import type { FileInfo, FileTree } from '../image/filetree.js';
import type { ImageConfig } from '../oci/manifest.js';
import { ALLOWED_PATHS, globsRegExp } from './allow.js';
import { matchWhole, RuleSet, type TextHit, TextMatcher } from './matcher.js';
import { isSecretName, isSecretValue } from './names.js';
import { clean, mask } from './redact.js';
import { SECRET_RULES, type SecretRule, secretRule } from './rules.js';

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

/**
 * Finds secrets in every file of every layer (the walk shows each layer's entries, so files deleted later are seen
 * too), in the config (Env, Labels, history) and in Dockerfiles. Never keeps a secret in full.
 */
export class SecretScanner implements Collector {
  readonly name = 'secrets';
  readonly keepsOwnResults = true;
  /** Hits past the per-scan limit, not reported. */
  dropped = 0;
  private readonly found: SecretHit[] = [];
  private readonly skip: RegExp | undefined;
  private readonly plain: ContentRequest;

  constructor(private readonly settings: SecretSettings) {
    this.skip = globsRegExp([...(settings.builtinAllow ? ALLOWED_PATHS : []), ...settings.skipPaths]);
    this.plain = { kind: 'stream', create: (info) => new SecretAnalyzer(this, info, []) };
  }

  wants(info: FileInfo): ContentRequest | undefined {
    if (info.type !== 'file' || info.size === 0 || info.size > this.settings.maxFileBytes) return undefined;
    if (this.skip?.test(info.path)) return undefined;
    if (!ANY_PATH_RULE.test(info.path)) return this.plain;
    const pathRules = PATH_RULES.filter((r) => r.paths?.test(info.path));
    if (pathRules.length === 0) return this.plain;
    return { kind: 'stream', create: (i) => new SecretAnalyzer(this, i, pathRules) };
  }

  /** @internal Called by a file's analyzer when the file ends. */
  record(info: FileInfo, hits: readonly TextHit[]): void {
    for (const h of hits) {
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

  /** Secrets in the config: Env (patterns and secret-named variables), Labels, and history commands. */
  scanConfig(config: ImageConfig): SecretHit[] {
    const out: SecretHit[] = [];
    for (const entry of config.config?.Env ?? []) {
      const eq = entry.indexOf('=');
      const name = eq >= 0 ? entry.slice(0, eq) : entry;
      out.push(...assignmentHits('env', name, eq >= 0 ? entry.slice(eq + 1) : ''));
    }
    for (const [name, value] of Object.entries(config.config?.Labels ?? {})) {
      out.push(...assignmentHits('label', name, value));
    }
    (config.history ?? []).forEach((h, i) => {
      if (!h.created_by) return;
      for (const t of textHits(h.created_by))
        out.push({ ruleId: t.rule.id, where: 'history', path: String(i), redacted: t.redacted });
    });
    return order(out);
  }

  /** Secrets in a Dockerfile (or any text file given by path): patterns, and secret-named `NAME=value` pairs. */
  scanText(text: string, path: string): SecretHit[] {
    return order(
      textHits(text).map((t) => ({
        ruleId: t.rule.id,
        where: 'file' as const,
        path,
        line: t.line,
        redacted: t.redacted,
      })),
    );
  }
}

/** The content rules over a text, then secret-named assignments where no pattern already matched that line. */
function textHits(text: string): TextHit[] {
  const m = new TextMatcher(RULES, MAX_HITS_PER_FILE);
  m.write(text);
  m.end();
  const lines = new Set(m.hits.map((h) => h.line));
  return [...m.hits, ...matchWhole([ENV_RULE], text, MAX_HITS_PER_FILE).filter((h) => !lines.has(h.line))];
}

function assignmentHits(where: 'env' | 'label', name: string, value: string): SecretHit[] {
  const found = textHits(`${name}=${value}`).filter((h) => h.rule !== ENV_RULE);
  if (found.length > 0) return found.map((h) => ({ ruleId: h.rule.id, where, path: name, redacted: h.redacted }));
  if (!isSecretName(name) || !isSecretValue(value)) return [];
  return [{ ruleId: ENV_RULE.id, where, path: name, redacted: `${clean(name, 80)}=${mask(value.trim())}` }];
}

const WHERE_ORDER = { file: 0, env: 1, label: 2, history: 3 } as const;

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
    if (this.binary) return;
    this.text.end();
    const hits = [...this.text.hits];
    if (this.whole) {
      // A token a content rule already named on that line is not reported again as the file's credential.
      const lines = new Set(hits.map((h) => h.line));
      const whole = matchWhole(this.pathRules, this.whole.join(''), MAX_HITS_PER_FILE);
      hits.push(...whole.filter((h) => !lines.has(h.line)));
    }
    if (hits.length > 0) this.scanner.record(this.info, hits);
  }

  result(): number {
    return 0;
  }
}
