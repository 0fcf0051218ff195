/**
 * A synchronous, resumable raw-DEFLATE decoder (ref: RFC 1951). node:zlib has no synchronous streaming API
 * (its sync calls are one-shot and its streams deliver asynchronously), while a StreamAnalyzer must decode
 * chunk by chunk as the layer streams. This one keeps a 32 KiB window and under 1 KiB of carried input, says
 * exactly where the deflate stream ends (zip data descriptors need that), and checks what zlib checks.
 */

/** Invalid deflate data; the message is zlib's wording for the same fault. */
export class InflateError extends Error {
  override readonly name = 'InflateError';
}

const WSIZE = 32768;
/** Output buffer: it starts small (most entries read are small) and grows to this, then slides its window. */
const OUT_SIZE = WSIZE * 4;
const OUT_START = 8192;
const NEED = -1;
/** Input bytes that always hold one whole literal or length/distance symbol pair. */
const FAST_INPUT = 8;
const LIT_ERROR = 'invalid literal/length code';
const DIST_ERROR = 'invalid distance code';
const MAX_MATCH = 258;
/** Bytes of a new chunk joined to carried input; one step (a dynamic block header) is under 600 bytes. */
const JOIN = 4096;

const LEN_BASE = [
  3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258,
];
const LEN_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_BASE = [
  1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145,
  8193, 12289, 16385, 24577,
];
const DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
const CL_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/**
 * A Huffman code: `fast` maps the next `bits` input bits to `symbol << 4 | length` for codes of up to `bits`
 * bits (0 otherwise); longer codes are decoded canonically from `count` and `symbols` (as puff.c).
 */
interface Table {
  readonly bits: number;
  readonly mask: number;
  readonly fast: Int32Array;
  readonly count: Uint16Array;
  readonly symbols: Uint16Array;
  /** Longest code length; 0 when the code has no symbols. */
  readonly max: number;
  /** Canonical-decode state after the first `bits` lengths, where slowDecode starts. */
  readonly first: number;
  readonly index: number;
}

/** Fast-table sizes: as in zlib, fewer bits for the distance and code-length codes, which have few symbols. */
const LIT_BITS = 10;
const DIST_BITS = 7;
const CL_BITS = 7;
const FAST_BITS = 10;
/** FAST_BITS-bit values bit-reversed: input bits come LSB first, Huffman codes MSB first. */
const REVERSED = (() => {
  const r = new Uint16Array(1 << FAST_BITS);
  for (let v = 0; v < r.length; v++) {
    let x = 0;
    for (let i = 0; i < FAST_BITS; i++) x |= ((v >> i) & 1) << (FAST_BITS - 1 - i);
    r[v] = x;
  }
  return r;
})();

type TableKind = 'codes' | 'lens' | 'dists';

/** Arrays a table is built in; an inflater keeps one set per dynamic table and reuses it block to block. */
interface TableSpace {
  readonly fast: Int32Array;
  readonly count: Uint16Array;
  readonly offs: Uint16Array;
  readonly symbols: Uint16Array;
}

function tableSpace(bits: number, symbols: number): TableSpace {
  return {
    fast: new Int32Array(1 << bits),
    count: new Uint16Array(16),
    offs: new Uint16Array(16),
    symbols: new Uint16Array(symbols),
  };
}

function buildTable(
  lengths: Uint8Array,
  n: number,
  kind: TableKind,
  bits: number,
  space: TableSpace = tableSpace(bits, n),
): Table {
  const mask = (1 << bits) - 1;
  const count = space.count.fill(0);
  for (let i = 0; i < n; i++) {
    const l = lengths[i] as number;
    count[l] = (count[l] as number) + 1;
  }
  count[0] = 0;
  let max = 15;
  while (max > 0 && count[max] === 0) max--;
  const fast = space.fast.fill(0);
  if (max === 0) {
    if (kind === 'codes') throw new InflateError('invalid code lengths set');
    return { bits, mask, fast, count, symbols: space.symbols, max, first: 0, index: 0 }; // any use is invalid
  }
  let left = 1;
  for (let len = 1; len <= 15; len++) {
    left = left * 2 - (count[len] as number);
    if (left < 0) throw new InflateError(overMessage(kind));
  }
  // As zlib's inflate_table: an incomplete code is only allowed as a single one-bit code (not for code lengths).
  if (left > 0 && (kind === 'codes' || max !== 1)) throw new InflateError(overMessage(kind));
  const offs = space.offs.fill(0);
  for (let len = 1; len < 15; len++) offs[len + 1] = (offs[len] as number) + (count[len] as number);
  const symbols = space.symbols;
  for (let sym = 0; sym < n; sym++) {
    const len = lengths[sym] as number;
    if (len === 0) continue;
    const at = offs[len] as number;
    symbols[at] = sym;
    offs[len] = at + 1;
  }
  // Fill the fast table from the canonical order: codes of one length are consecutive, shorter ones first.
  for (let len = 1, code = 0, k = 0; len <= Math.min(max, bits); len++, code <<= 1) {
    for (let c = 0; c < (count[len] as number); c++, code++, k++) {
      const rev = REVERSED[code << (FAST_BITS - len)] as number;
      const entry = ((symbols[k] as number) << 4) | len;
      for (let i = rev; i <= mask; i += 1 << len) fast[i] = entry;
    }
  }
  let first = 0;
  let index = 0;
  for (let len = 1; len <= bits; len++) {
    index += count[len] as number;
    first = (first + (count[len] as number)) << 1;
  }
  return { bits, mask, fast, count, symbols, max, first, index };
}

/**
 * Canonical decode of a code longer than the fast table's from the low bits of `bits` (`avail` of them valid).
 * Returns `symbol << 4 | length`, NEED when more bits are needed, or throws for a code that does not exist.
 */
function slowDecode(t: Table, bits: number, avail: number, error: string): number {
  if (avail < t.bits) {
    return avail >= t.max ? fail(error) : NEED;
  }
  let code = (REVERSED[(bits & t.mask) << (FAST_BITS - t.bits)] as number) << 1;
  let first = t.first;
  let index = t.index;
  for (let len = t.bits + 1; len <= 15; len++) {
    if (len > avail) return NEED;
    code |= (bits >>> (len - 1)) & 1;
    const c = t.count[len] as number;
    if (code - c < first) return ((t.symbols[index + code - first] as number) << 4) | len;
    index += c;
    first = (first + c) << 1;
    code <<= 1;
  }
  return fail(error);
}

function fail(error: string): never {
  throw new InflateError(error);
}

function overMessage(kind: TableKind): string {
  return kind === 'codes'
    ? 'invalid code lengths set'
    : kind === 'lens'
      ? 'invalid literal/lengths set'
      : 'invalid distances set';
}

const FIXED_LIT = (() => {
  const l = new Uint8Array(288);
  l.fill(8, 0, 144);
  l.fill(9, 144, 256);
  l.fill(7, 256, 280);
  l.fill(8, 280, 288);
  return buildTable(l, 288, 'lens', LIT_BITS);
})();
const FIXED_DIST = buildTable(new Uint8Array(32).fill(5), 32, 'dists', DIST_BITS);
/** The code-length code lives only while a block header is read, and decoding is synchronous: one is shared. */
const CL_SPACE = tableSpace(CL_BITS, 19);

type Mode = 'header' | 'stored' | 'codes' | 'done';
const EMPTY = new Uint8Array(0);

/**
 * Decodes one raw deflate stream pushed in chunks. Decoded bytes go to `onData` as views into a reused buffer
 * (copy what you keep); after `discard()`, or without `onData`, the stream is parsed to its end but nothing is
 * written, which costs time proportional to the input only.
 */
export class Inflater {
  private mode: Mode = 'header';
  private final = false;
  private storedLeft = 0;
  private lit: Table = FIXED_LIT;
  private dist: Table = FIXED_DIST;
  /** Fast tables of dynamic blocks, reused from block to block. */
  private litSpace: TableSpace | undefined;
  private distSpace: TableSpace | undefined;
  private bitbuf = 0;
  private bitcnt = 0;
  private carry: Uint8Array = EMPTY;
  private buf: Uint8Array = EMPTY;
  private pushed = 0;
  private pos = 0;
  private out: Uint8Array | undefined;
  private op = 0;
  private flushed = 0;
  private emit: boolean;
  private total = 0;
  private consumed = 0;

  constructor(private readonly onData?: (chunk: Uint8Array) => void) {
    this.emit = onData !== undefined;
    this.out = this.emit ? new Uint8Array(OUT_START) : undefined;
  }

  /** True once the final block has been decoded. */
  get ended(): boolean {
    return this.mode === 'done';
  }

  /** Bytes decoded so far (also counted while discarding). */
  get outputBytes(): number {
    return this.total;
  }

  /** Input bytes taken so far; once the stream has ended, exactly the bytes that belong to it. */
  get inputBytes(): number {
    return this.mode === 'done' ? this.consumed : this.pushed;
  }

  /** Stop handing out decoded bytes; the stream is still parsed so that its end is found. */
  discard(): void {
    this.emit = false;
  }

  /**
   * Feed compressed bytes. Returns how many bytes of `chunk` belong to the stream: all of them, unless the
   * stream ended inside this chunk. Throws InflateError on invalid data.
   */
  push(input: Uint8Array): number {
    if (this.mode === 'done' || input.length === 0) return 0;
    // One element type in the hot loop: Buffers and plain Uint8Arrays would make its reads polymorphic.
    const chunk =
      input.constructor === Uint8Array ? input : new Uint8Array(input.buffer, input.byteOffset, input.length);
    const at = this.pushed;
    this.pushed += chunk.length;
    const carried = this.carry.length;
    let used: number;
    if (carried === 0) {
      used = this.runOn(chunk, at, 0, 0);
    } else {
      // Join the carried bytes to only the head of the chunk, then go on in the chunk itself without a copy.
      const head = chunk.subarray(0, Math.min(chunk.length, JOIN));
      const joined = new Uint8Array(carried + head.length);
      joined.set(this.carry, 0);
      joined.set(head, carried);
      this.carry = EMPTY;
      used = this.runOn(joined, at - carried, carried, 0);
      if (!this.ended && head.length < chunk.length) {
        if (this.carry.length > head.length) throw new InflateError('internal: deflate step longer than join window');
        const resume = head.length - this.carry.length;
        this.carry = EMPTY;
        used = this.runOn(chunk, at, 0, resume);
      }
    }
    this.flush();
    return used;
  }

  /** Decode `buf` (whose first byte is input byte `offset`) from `start`; the first `skip` bytes were carried. */
  private runOn(buf: Uint8Array, offset: number, skip: number, start: number): number {
    this.buf = buf;
    this.pos = start;
    this.run();
    const pos = this.pos;
    this.buf = EMPTY;
    if (this.mode === 'done') {
      // Whole bytes still in the bit buffer were read ahead and belong to whatever follows the stream.
      const end = pos - (this.bitcnt >> 3);
      this.bitbuf = 0;
      this.bitcnt = 0;
      this.consumed = offset + end;
      return Math.max(0, end - skip);
    }
    this.carry = buf.slice(pos);
    return buf.length - skip;
  }

  private run(): void {
    for (;;) {
      if (this.mode === 'header') {
        if (!this.header()) return;
      } else if (this.mode === 'stored') {
        if (!this.stored()) return;
      } else if (this.mode === 'codes') {
        if (!this.codes()) return;
      } else return;
    }
  }

  private need(n: number): boolean {
    while (this.bitcnt < n) {
      if (this.pos >= this.buf.length) return false;
      this.bitbuf |= (this.buf[this.pos++] as number) << this.bitcnt;
      this.bitcnt += 8;
    }
    return true;
  }

  private bits(n: number): number {
    const v = this.bitbuf & ((1 << n) - 1);
    this.bitbuf >>>= n;
    this.bitcnt -= n;
    return v;
  }

  /** One block header, with the whole dynamic table description: all or nothing. */
  private header(): boolean {
    const pos = this.pos;
    const bitbuf = this.bitbuf;
    const bitcnt = this.bitcnt;
    const rollback = (): false => {
      this.pos = pos;
      this.bitbuf = bitbuf;
      this.bitcnt = bitcnt;
      return false;
    };
    if (!this.need(3)) return rollback();
    this.final = this.bits(1) === 1;
    const type = this.bits(2);
    if (type === 0) {
      this.bits(this.bitcnt & 7);
      if (!this.need(16)) return rollback();
      const len = this.bits(16);
      if (!this.need(16)) return rollback();
      const nlen = this.bits(16);
      if (len !== (~nlen & 0xffff)) throw new InflateError('invalid stored block lengths');
      this.storedLeft = len;
      this.mode = 'stored';
      return true;
    }
    if (type === 1) {
      this.lit = FIXED_LIT;
      this.dist = FIXED_DIST;
      this.mode = 'codes';
      return true;
    }
    if (type === 3) throw new InflateError('invalid block type');
    const ok = this.dynamic();
    if (!ok) return rollback();
    this.mode = 'codes';
    return true;
  }

  private dynamic(): boolean {
    if (!this.need(14)) return false;
    const nlen = this.bits(5) + 257;
    const ndist = this.bits(5) + 1;
    const ncode = this.bits(4) + 4;
    if (nlen > 286 || ndist > 30) throw new InflateError('too many length or distance symbols');
    const cl = new Uint8Array(19);
    for (let i = 0; i < ncode; i++) {
      if (!this.need(3)) return false;
      cl[CL_ORDER[i] as number] = this.bits(3);
    }
    const clTable = buildTable(cl, 19, 'codes', CL_BITS, CL_SPACE);
    const total = nlen + ndist;
    const lengths = new Uint8Array(total);
    let i = 0;
    while (i < total) {
      const sym = this.decode(clTable, 'invalid code lengths set');
      if (sym === NEED) return false;
      if (sym < 16) {
        lengths[i++] = sym;
        continue;
      }
      let rep: number;
      let val = 0;
      if (sym === 16) {
        if (i === 0) throw new InflateError('invalid bit length repeat');
        if (!this.need(2)) return false;
        val = lengths[i - 1] as number;
        rep = 3 + this.bits(2);
      } else if (sym === 17) {
        if (!this.need(3)) return false;
        rep = 3 + this.bits(3);
      } else {
        if (!this.need(7)) return false;
        rep = 11 + this.bits(7);
      }
      if (i + rep > total) throw new InflateError('invalid bit length repeat');
      lengths.fill(val, i, i + rep);
      i += rep;
    }
    if (lengths[256] === 0) throw new InflateError('invalid code -- missing end-of-block');
    this.litSpace ??= tableSpace(LIT_BITS, 288);
    this.distSpace ??= tableSpace(DIST_BITS, 32);
    this.lit = buildTable(lengths.subarray(0, nlen), nlen, 'lens', LIT_BITS, this.litSpace);
    this.dist = buildTable(lengths.subarray(nlen), ndist, 'dists', DIST_BITS, this.distSpace);
    return true;
  }

  /** Decode one symbol; NEED when the input ends first. Short final codes decode without bits past the end. */
  private decode(t: Table, error: string): number {
    this.need(15);
    let e = t.fast[this.bitbuf & t.mask] as number;
    if (e === 0 || (e & 15) > this.bitcnt) {
      if (e === 0 && t.max > t.bits) e = slowDecode(t, this.bitbuf, this.bitcnt, error);
      else if (e === 0 && this.bitcnt >= Math.max(t.max, 1)) throw new InflateError(error);
      else return NEED;
      if (e === NEED) return NEED;
    }
    const len = e & 15;
    this.bitbuf >>>= len;
    this.bitcnt -= len;
    return e >> 4;
  }

  private stored(): boolean {
    while (this.storedLeft > 0 && this.bitcnt >= 8) {
      const b = this.bitbuf & 0xff;
      this.bitbuf >>>= 8;
      this.bitcnt -= 8;
      this.storedLeft--;
      this.total++;
      const out = this.room(1);
      if (out) out[this.op++] = b;
    }
    while (this.storedLeft > 0) {
      const avail = this.buf.length - this.pos;
      if (avail === 0) return false;
      let n = Math.min(avail, this.storedLeft);
      const out = this.room(1);
      if (out) {
        n = Math.min(n, out.length - this.op);
        out.set(this.buf.subarray(this.pos, this.pos + n), this.op);
        this.op += n;
      }
      this.pos += n;
      this.storedLeft -= n;
      this.total += n;
    }
    this.mode = this.final ? 'done' : 'header';
    return true;
  }

  /** Literal and length/distance symbols until the end of the block. */
  private codes(): boolean {
    for (;;) {
      if (this.buf.length - this.pos >= FAST_INPUT && this.fastCodes()) return true;
      const r = this.oneSymbol();
      if (r !== 'ok') return r === 'eob';
    }
  }

  /**
   * The hot loop, while at least FAST_INPUT bytes remain: one literal or length/distance pair never needs
   * more than 48 bits, so no input check is needed inside an iteration. Returns true at the end of the block.
   */
  private fastCodes(): boolean {
    const lit = this.lit;
    const dist = this.dist;
    const lf = lit.fast;
    const df = dist.fast;
    const lmask = lit.mask;
    const dmask = dist.mask;
    const buf = this.buf;
    const last = buf.length - FAST_INPUT;
    let pos = this.pos;
    let bb = this.bitbuf;
    let bc = this.bitcnt;
    let total = this.total;
    let op = this.op;
    let out = this.emit ? this.out : undefined;
    let eob = false;
    while (pos <= last) {
      if (out && op + MAX_MATCH > out.length) {
        this.op = op;
        out = this.room(MAX_MATCH);
        op = this.op;
      }
      if (bc < 15) {
        bb |= (buf[pos++] as number) << bc;
        bc += 8;
        bb |= (buf[pos++] as number) << bc;
        bc += 8;
      }
      let e = lf[bb & lmask] as number;
      if (e === 0) e = slowDecode(lit, bb, bc, LIT_ERROR);
      let l = e & 15;
      bb >>>= l;
      bc -= l;
      let sym = e >> 4;
      if (sym < 256) {
        if (out) out[op++] = sym;
        total++;
        continue;
      }
      if (sym === 256) {
        eob = true;
        break;
      }
      sym -= 257;
      if (sym >= 29) throw new InflateError(LIT_ERROR);
      while (bc < 20) {
        bb |= (buf[pos++] as number) << bc;
        bc += 8;
      }
      let length = LEN_BASE[sym] as number;
      const le = LEN_EXTRA[sym] as number;
      if (le > 0) {
        length += bb & ((1 << le) - 1);
        bb >>>= le;
        bc -= le;
      }
      e = df[bb & dmask] as number;
      if (e === 0) e = slowDecode(dist, bb, bc, DIST_ERROR);
      l = e & 15;
      bb >>>= l;
      bc -= l;
      const ds = e >> 4;
      if (ds >= 30) throw new InflateError(DIST_ERROR);
      let d = DIST_BASE[ds] as number;
      const de = DIST_EXTRA[ds] as number;
      if (de > 0) {
        while (bc < de) {
          bb |= (buf[pos++] as number) << bc;
          bc += 8;
        }
        d += bb & ((1 << de) - 1);
        bb >>>= de;
        bc -= de;
      }
      if (d > total) throw new InflateError('invalid distance too far back');
      total += length;
      if (out) {
        let from = op - d;
        const stop = op + length;
        while (op < stop) out[op++] = out[from++] as number;
      }
    }
    this.pos = pos;
    this.bitbuf = bb;
    this.bitcnt = bc;
    this.total = total;
    this.op = op;
    if (eob) this.mode = this.final ? 'done' : 'header';
    return eob;
  }

  /** One symbol near the end of the input, all or nothing: its bits are given back when some are missing. */
  private oneSymbol(): 'ok' | 'eob' | 'need' {
    const pos = this.pos;
    const bitbuf = this.bitbuf;
    const bitcnt = this.bitcnt;
    const rollback = (): 'need' => {
      this.pos = pos;
      this.bitbuf = bitbuf;
      this.bitcnt = bitcnt;
      return 'need';
    };
    let sym = this.decode(this.lit, LIT_ERROR);
    if (sym === NEED) return rollback();
    if (sym < 256) {
      this.total++;
      const out = this.room(1);
      if (out) out[this.op++] = sym;
      return 'ok';
    }
    if (sym === 256) {
      this.mode = this.final ? 'done' : 'header';
      return 'eob';
    }
    sym -= 257;
    if (sym >= 29) throw new InflateError(LIT_ERROR);
    const le = LEN_EXTRA[sym] as number;
    let len = LEN_BASE[sym] as number;
    if (le > 0) {
      if (!this.need(le)) return rollback();
      len += this.bits(le);
    }
    const ds = this.decode(this.dist, DIST_ERROR);
    if (ds === NEED) return rollback();
    if (ds >= 30) throw new InflateError(DIST_ERROR);
    const de = DIST_EXTRA[ds] as number;
    let d = DIST_BASE[ds] as number;
    if (de > 0) {
      if (!this.need(de)) return rollback();
      d += this.bits(de);
    }
    if (d > this.total) throw new InflateError('invalid distance too far back');
    this.total += len;
    const out = this.room(MAX_MATCH);
    if (out) {
      let from = this.op - d;
      let to = this.op;
      const end = to + len;
      while (to < end) out[to++] = out[from++] as number;
      this.op = end;
    }
    return 'ok';
  }

  /**
   * The output buffer with room for `n` more bytes, or undefined when not emitting. Pending output is handed
   * out first; then the buffer grows, and once full keeps only the last 32 KiB as the window.
   */
  private room(n: number): Uint8Array | undefined {
    const current = this.emit ? this.out : undefined;
    if (!current || this.op + n <= current.length) return current;
    this.flush();
    if (!this.emit) return undefined; // the consumer stopped while taking the output
    let out: Uint8Array = current;
    while (this.op + n > out.length) {
      if (out.length < OUT_SIZE) {
        const bigger = new Uint8Array(Math.min(OUT_SIZE, out.length * 2));
        bigger.set(out.subarray(0, this.op));
        out = bigger;
        this.out = bigger;
      } else {
        out.copyWithin(0, this.op - WSIZE, this.op);
        this.op = WSIZE;
        this.flushed = WSIZE;
      }
    }
    return out;
  }

  private flush(): void {
    if (this.emit && this.out && this.op > this.flushed) {
      const view = this.out.subarray(this.flushed, this.op);
      this.flushed = this.op;
      this.onData?.(view);
    } else {
      this.flushed = this.op;
    }
  }
}
