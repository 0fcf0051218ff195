import { createHash } from 'node:crypto';
import { clean, mask } from './redact.js';
import type { SecretRule } from './rules.js';

/** A confirmed match in one text: its rule, where it starts, and what may be shown of it. */
export interface TextHit {
  readonly rule: SecretRule;
  /** Character offset of the match start (a byte offset for latin1-read files). */
  readonly offset: number;
  /** Where the match ends (exclusive). */
  readonly end: number;
  /** 1-based line of the match start. */
  readonly line: number;
  readonly redacted: string;
  /** The match's name (when the rule has one) and masked secret: two hits with the same are one secret. */
  readonly masked: string;
}

/** Characters around a keyword window beyond the rule's reach: room for the patterns' look-arounds. */
const MARGIN = 8;
/** Keyword hits closer than this merge into one window; a window is closed once it spans this much. */
const MAX_WINDOW = 64 * 1024;

/** The content rules compiled for the prefilter: one keyword expression, and which rules each keyword wakes. */
export class RuleSet {
  readonly rules: readonly SecretRule[];
  readonly keywords: RegExp;
  /** Bit i set: rules[i] runs near this keyword. */
  readonly masks: ReadonlyMap<string, number>;
  readonly maxKeyword: number;
  /** How far back a window can start from the newest byte: what a matcher keeps of data already seen. */
  readonly reach: number;

  constructor(rules: readonly SecretRule[]) {
    this.rules = rules.filter((r) => r.keywords.length > 0 && !r.paths);
    if (this.rules.length > 31) throw new Error('at most 31 content rules fit the keyword masks');
    const words = [...new Set(this.rules.flatMap((r) => r.keywords))].sort((a, b) => b.length - a.length);
    const masks = new Map<string, number>();
    // A keyword also wakes the rules of every keyword inside it: alternation reports only one per position.
    for (const w of words) {
      let m = 0;
      this.rules.forEach((r, i) => {
        if (r.keywords.some((k) => w.includes(k))) m |= 1 << i;
      });
      masks.set(w, m);
    }
    this.masks = masks;
    this.keywords = new RegExp(words.map((w) => w.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')).join('|'), 'g');
    this.maxKeyword = Math.max(1, ...words.map((w) => w.length));
    this.reach = this.maxKeyword + Math.max(0, ...this.rules.map((r) => r.before)) + MARGIN;
  }
}

/** Shared empty list: most files have no keyword at all, and need no list of their own. */
const NO_WINDOWS: Window[] = [];

interface Window {
  start: number;
  end: number;
  mask: number;
  closed: boolean;
}

/**
 * Streams one text through the prefilter: finds keywords (also across chunk boundaries), merges the regions around
 * them into bounded windows, and runs the rules' patterns only there. Keeps a bounded tail of what it has seen, so
 * a file gives the same hits however it is cut into chunks. Lines are counted only where needed.
 */
export class TextMatcher {
  readonly hits: TextHit[] = [];
  /** True once `maxHits` were found: the caller may stop feeding. */
  full = false;
  private pos = 0;
  private hist = '';
  private lines = 0;
  private linesAt = 0;
  private windows: Window[] = NO_WINDOWS;
  /** Per rule, the newest match start already judged (windows overlap when one is split); made on first use. */
  private judged: number[] | undefined;

  constructor(
    private readonly set: RuleSet,
    private readonly maxHits = 100,
  ) {}

  write(s: string): void {
    if (this.full || s.length === 0) return;
    const set = this.set;
    let data = s;
    let dataStart = this.pos;
    if (this.hist.length > 0) {
      this.countTo(this.hist, this.pos - this.hist.length, this.pos);
      const keepFrom = Math.min(this.windows[0]?.start ?? this.pos, this.pos - set.reach);
      const histStart = this.pos - this.hist.length;
      if (keepFrom > histStart) this.hist = this.hist.slice(keepFrom - histStart);
      dataStart = this.pos - this.hist.length;
      // Keywords that start in the data before and end in this chunk.
      const tail = this.hist.slice(-(set.maxKeyword - 1));
      if (tail.length > 0) {
        const joint = tail + s.slice(0, set.maxKeyword - 1);
        const re = set.keywords;
        re.lastIndex = 0;
        for (let m = re.exec(joint); m; m = re.exec(joint)) {
          if (m.index < tail.length && m.index + m[0].length > tail.length) {
            this.keyword(this.pos - tail.length + m.index, m[0]);
          }
          re.lastIndex = m.index + 1;
        }
      }
      data = this.hist + s;
    }
    const re = set.keywords;
    re.lastIndex = 0;
    for (let m = re.exec(s); m; m = re.exec(s)) {
      this.keyword(this.pos + m.index, m[0]);
      re.lastIndex = m.index + 1;
    }
    this.pos += s.length;
    this.hist = data;
    this.evaluate(data, dataStart, false);
  }

  end(): void {
    if (!this.full) this.evaluate(this.hist, this.pos - this.hist.length, true);
    this.windows = NO_WINDOWS;
    this.hist = '';
  }

  private keyword(at: number, word: string): void {
    const mask = this.set.masks.get(word) ?? 0;
    let before = 0;
    let after = 0;
    this.set.rules.forEach((r, i) => {
      if (mask & (1 << i)) {
        before = Math.max(before, r.before);
        after = Math.max(after, r.after);
      }
    });
    const start = Math.max(0, at - before - MARGIN);
    const end = at + word.length + after + MARGIN;
    const last = this.windows[this.windows.length - 1];
    if (last && !last.closed && start <= last.end && Math.max(end, last.end) - last.start <= MAX_WINDOW) {
      last.end = Math.max(end, last.end);
      last.mask |= mask;
      return;
    }
    if (last) last.closed = true;
    if (this.windows === NO_WINDOWS) this.windows = [];
    this.windows.push({ start, end, mask, closed: false });
  }

  /** Run the patterns of every window no later keyword can still grow, in order. */
  private evaluate(data: string, dataStart: number, final: boolean): void {
    while (this.windows.length > 0 && !this.full) {
      const w = this.windows[0] as Window;
      const complete = final || (w.end <= this.pos && (w.closed || w.end < this.pos - this.set.reach));
      if (!complete) return;
      this.windows.shift();
      const end = Math.min(w.end, this.pos);
      this.run(w, data.slice(w.start - dataStart, end - dataStart), data, dataStart);
    }
  }

  private run(w: Window, text: string, data: string, dataStart: number): void {
    this.judged ??= this.set.rules.map(() => -1);
    const judged = this.judged;
    this.set.rules.forEach((rule, i) => {
      if (!(w.mask & (1 << i)) || this.full) return;
      const re = rule.pattern;
      re.lastIndex = 0;
      for (let m = re.exec(text); m; m = re.exec(text)) {
        if (m[0].length === 0) re.lastIndex++;
        const offset = w.start + m.index;
        if (offset <= (judged[i] as number)) continue;
        judged[i] = offset;
        if (rule.accept && !rule.accept(m)) continue;
        const line = this.lineAt(data, dataStart, offset);
        const end = offset + m[0].length;
        this.hits.push({ rule, offset, end, line, redacted: redact(rule, m), masked: masked(rule, m) });
        if (this.hits.length >= this.maxHits) {
          this.full = true;
          return;
        }
      }
    });
  }

  private lineAt(data: string, dataStart: number, offset: number): number {
    if (offset >= this.linesAt) {
      this.countTo(data, dataStart, offset);
      return this.lines + 1;
    }
    return this.lines + 1 - countNewlines(data, offset - dataStart, this.linesAt - dataStart);
  }

  /** Advance the line count to `to`; `data` holds the text from `dataStart`. */
  private countTo(data: string, dataStart: number, to: number): void {
    if (to <= this.linesAt) return;
    this.lines += countNewlines(data, this.linesAt - dataStart, to - dataStart);
    this.linesAt = to;
  }
}

export function countNewlines(s: string, from: number, to: number): number {
  let n = 0;
  for (let i = s.indexOf('\n', from); i >= 0 && i < to; i = s.indexOf('\n', i + 1)) n++;
  return n;
}

/** The report text of a match: the rule's own view, else the match with its secret masked. */
export function redact(rule: SecretRule, m: RegExpExecArray): string {
  if (rule.show) return clean(rule.show(m));
  const span = m.indices?.groups?.secret;
  const secret = m.groups?.secret;
  if (!span || secret === undefined) return mask(m[0]);
  const from = span[0] - m.index;
  const to = span[1] - m.index;
  return `${clean(m[0].slice(0, from), 80)}${mask(secret)}${clean(m[0].slice(to), 80)}`;
}

/**
 * What tells one secret from another (never printed): the name it is assigned to, and a digest of the secret (masks
 * of two short secrets are alike).
 */
export function masked(rule: SecretRule, m: RegExpExecArray): string {
  const secret = m.groups?.secret;
  // Two private keys show the same BEGIN line, and often the same first 40 characters of body (OpenSSH's header):
  // tell them apart by the body, up to its END line (PEM) or its MAC (PuTTY).
  if (secret === undefined) {
    const rest = m.input.slice(m.index, m.index + 16 * 1024);
    const ends = [rest.indexOf('-----END', 10), rest.indexOf('Private-MAC:')].filter((i) => i > 0);
    return secretKey(rule.id, ends.length > 0 ? rest.slice(0, Math.min(...ends)) : m[0]);
  }
  return secretKey(m.groups?.name ?? '', secret);
}

/** The key of one secret under one name: the name and a digest of the value, so no two secrets share it. */
export function secretKey(name: string, secret: string): string {
  return `${name}\0${createHash('sha256').update(secret).digest('base64')}`;
}

/** Run whole-text rules (credential files, assignments) over one text, with lines. */
export function matchWhole(rules: readonly SecretRule[], text: string, maxHits = 100): TextHit[] {
  const out: TextHit[] = [];
  for (const rule of rules) {
    if (rule.keywords.length > 0 && !rule.keywords.some((k) => text.includes(k))) continue;
    const re = rule.pattern;
    re.lastIndex = 0;
    let line = 1;
    let at = 0;
    for (let m = re.exec(text); m && out.length < maxHits; m = re.exec(text)) {
      if (m[0].length === 0) re.lastIndex++;
      if (rule.accept && !rule.accept(m)) continue;
      line += countNewlines(text, at, m.index);
      at = m.index;
      const end = m.index + m[0].length;
      out.push({ rule, offset: m.index, end, line, redacted: redact(rule, m), masked: masked(rule, m) });
    }
  }
  return out;
}
