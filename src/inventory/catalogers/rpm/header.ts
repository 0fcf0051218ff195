import { badHeader } from './errors.js';

/**
 * The rpm header blob as the databases store it (ref: rpm lib/header.c, headerImport): a
 * big-endian index count `il` and data length `dl`, `il` index entries of 16 bytes
 * (tag, type, offset, count) and `dl` bytes of data. Only the tags the cataloger needs are decoded,
 * each with the bounds checks rpm applies, so a hostile blob yields a typed error, never a crash.
 */

/** Tags this parser reads (ref: rpm include/rpm/rpmtag.h). */
export const RPMTAG = {
  NAME: 1000,
  VERSION: 1001,
  RELEASE: 1002,
  EPOCH: 1003,
  SIZE: 1009,
  VENDOR: 1011,
  LICENSE: 1014,
  ARCH: 1022,
  OLDFILENAMES: 1027,
  SOURCERPM: 1044,
  DIRINDEXES: 1116,
  BASENAMES: 1117,
  DIRNAMES: 1118,
  MODULARITYLABEL: 5096,
} as const;

const TYPE_INT32 = 4;
const TYPE_STRING = 6;
const TYPE_STRING_ARRAY = 8;
const TYPE_I18NSTRING = 9;

/** rpm's own limits: at most 0xffff index entries and 0x0fffffff data bytes (lib/header.c). */
const MAX_TAGS = 0xffff;
const MAX_DATA = 0x0fffffff;
/** A file list whose paths would add up to more than this is refused (dirname × basename blow-up). */
const MAX_FILE_LIST_CHARS = 64 * 1024 * 1024;

const WANTED = new Set<number>(Object.values(RPMTAG));

/** The package facts of one rpm header. */
export interface RpmHeader {
  readonly name: string;
  readonly version: string;
  readonly release: string;
  /** EPOCH when the header has one (0 is kept: rpm's %{EVR} prints `0:` then). */
  readonly epoch?: number;
  readonly arch?: string;
  /** SOURCERPM, e.g. `bash-5.1.8-6.el9.src.rpm`; absent for gpg-pubkey and source packages. */
  readonly sourceRpm?: string;
  readonly license?: string;
  readonly vendor?: string;
  /** Installed size in bytes (SIZE). */
  readonly size?: number;
  readonly modularityLabel?: string;
  /** Absolute paths of the files the package owns, when asked for. */
  readonly files?: readonly string[];
}

export interface ParseHeaderOptions {
  /** Also decode the file list (BASENAMES/DIRNAMES/DIRINDEXES or the legacy OLDFILENAMES). Default false. */
  readonly files?: boolean;
}

interface Entry {
  readonly tag: number;
  readonly type: number;
  readonly offset: number;
  readonly count: number;
}

class HeaderView {
  private readonly buf: Buffer;
  private readonly view: DataView;
  private readonly data: number;
  readonly dl: number;
  readonly entries = new Map<number, Entry>();

  constructor(blob: Uint8Array) {
    this.buf = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
    this.view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
    if (blob.byteLength < 8) badHeader(`header of ${blob.byteLength} bytes is shorter than its 8-byte preamble`);
    const il = this.view.getUint32(0);
    const dl = this.view.getUint32(4);
    if (il < 1 || il > MAX_TAGS) badHeader(`header declares ${il} index entries (1..${MAX_TAGS} allowed)`);
    if (dl > MAX_DATA) badHeader(`header declares ${dl} data bytes (at most ${MAX_DATA})`);
    const expected = 8 + il * 16 + dl;
    if (blob.byteLength !== expected) {
      badHeader(`header of ${blob.byteLength} bytes does not match its ${il} entries and ${dl} data bytes`);
    }
    this.data = 8 + il * 16;
    this.dl = dl;
    for (let i = 0; i < il; i++) {
      const o = 8 + i * 16;
      const tag = this.view.getUint32(o);
      if (!WANTED.has(tag)) continue; // region tags and everything else are not decoded
      // Entries appended after the immutable region ("dribbles") override it, as in rpm: last one wins.
      this.entries.set(tag, {
        tag,
        type: this.view.getUint32(o + 4),
        offset: this.view.getInt32(o + 8),
        count: this.view.getUint32(o + 12),
      });
    }
  }

  private check(e: Entry, what: string): void {
    if (e.offset < 0 || e.offset >= this.dl) badHeader(`tag ${e.tag}: ${what} offset ${e.offset} is outside the data`);
    if (e.count < 1 || e.count > this.dl) badHeader(`tag ${e.tag}: count ${e.count} is out of range`);
  }

  /** The NUL-terminated string at data offset `off`, and the offset just past its NUL. */
  private cstring(tag: number, off: number): [string, number] {
    const start = this.data + off;
    const end = this.buf.indexOf(0, start);
    if (end < 0 || end >= this.data + this.dl) badHeader(`tag ${tag}: string runs past the end of the data`);
    return [this.buf.toString('utf8', start, end), end + 1 - this.data];
  }

  string(tag: number): string | undefined {
    const e = this.entries.get(tag);
    if (!e) return undefined;
    // I18NSTRING is an array of translations; the first is the untranslated "C" one.
    if (e.type !== TYPE_STRING && e.type !== TYPE_I18NSTRING) badHeader(`tag ${tag}: type ${e.type} is not a string`);
    this.check(e, 'string');
    return this.cstring(tag, e.offset)[0];
  }

  strings(tag: number): string[] | undefined {
    const e = this.entries.get(tag);
    if (!e) return undefined;
    if (e.type !== TYPE_STRING_ARRAY) badHeader(`tag ${tag}: type ${e.type} is not a string array`);
    this.check(e, 'string array');
    const out: string[] = [];
    let off = e.offset;
    for (let i = 0; i < e.count; i++) {
      if (off >= this.dl) badHeader(`tag ${tag}: string array runs past the end of the data`);
      const [s, next] = this.cstring(tag, off);
      out.push(s);
      off = next;
    }
    return out;
  }

  /** The INT32 values of a tag; only the first `max` are decoded (all are bounds-checked). */
  int32s(tag: number, max = Number.POSITIVE_INFINITY): number[] | undefined {
    const e = this.entries.get(tag);
    if (!e) return undefined;
    if (e.type !== TYPE_INT32) badHeader(`tag ${tag}: type ${e.type} is not INT32`);
    this.check(e, 'INT32');
    if (e.offset % 4 !== 0) badHeader(`tag ${tag}: INT32 data at offset ${e.offset} is not aligned`);
    if (e.offset + e.count * 4 > this.dl) badHeader(`tag ${tag}: ${e.count} INT32 values run past the data`);
    const n = Math.min(e.count, max);
    const out = new Array<number>(n);
    for (let i = 0; i < n; i++) out[i] = this.view.getUint32(this.data + e.offset + i * 4);
    return out;
  }
}

/** Decode one header blob; throws RpmdbError (RPM_HEADER_INVALID) when it is malformed. */
export function parseRpmHeader(blob: Uint8Array, opts: ParseHeaderOptions = {}): RpmHeader {
  const h = new HeaderView(blob);
  const name = h.string(RPMTAG.NAME);
  const version = h.string(RPMTAG.VERSION);
  const release = h.string(RPMTAG.RELEASE);
  if (!name) badHeader('header has no NAME');
  if (version === undefined || release === undefined) badHeader(`header of ${name} has no VERSION or RELEASE`);
  const epoch = h.int32s(RPMTAG.EPOCH, 1)?.[0];
  const size = h.int32s(RPMTAG.SIZE, 1)?.[0];
  const arch = h.string(RPMTAG.ARCH);
  const sourceRpm = h.string(RPMTAG.SOURCERPM);
  const license = h.string(RPMTAG.LICENSE);
  const vendor = h.string(RPMTAG.VENDOR);
  const modularityLabel = h.string(RPMTAG.MODULARITYLABEL);
  const files = opts.files ? fileList(h) : undefined;
  return {
    name,
    version,
    release,
    ...(epoch !== undefined ? { epoch } : {}),
    ...(arch ? { arch } : {}),
    ...(sourceRpm ? { sourceRpm } : {}),
    ...(license ? { license } : {}),
    ...(vendor ? { vendor } : {}),
    ...(size !== undefined ? { size } : {}),
    ...(modularityLabel ? { modularityLabel } : {}),
    ...(files ? { files } : {}),
  };
}

function fileList(h: HeaderView): string[] {
  const basenames = h.strings(RPMTAG.BASENAMES);
  if (!basenames) return h.strings(RPMTAG.OLDFILENAMES) ?? [];
  const dirnames = h.strings(RPMTAG.DIRNAMES) ?? badHeader('BASENAMES without DIRNAMES');
  const dirindexes = h.int32s(RPMTAG.DIRINDEXES) ?? badHeader('BASENAMES without DIRINDEXES');
  if (dirindexes.length !== basenames.length) badHeader('DIRINDEXES and BASENAMES differ in length');
  const out: string[] = [];
  let chars = 0;
  for (let i = 0; i < basenames.length; i++) {
    const dir = dirnames[dirindexes[i] as number];
    if (dir === undefined) badHeader(`DIRINDEXES[${i}] points past the ${dirnames.length} DIRNAMES`);
    const base = basenames[i] as string;
    chars += dir.length + base.length;
    if (chars > MAX_FILE_LIST_CHARS) badHeader(`file list is over ${MAX_FILE_LIST_CHARS} characters`);
    out.push(dir + base);
  }
  return out;
}

/** Name, version and release of a source RPM file name such as `bash-5.1.8-6.el9.src.rpm`. */
export function parseSourceRpm(
  file: string,
): { readonly name: string; readonly version: string; readonly release: string } | undefined {
  let base: string;
  if (file.endsWith('.src.rpm')) base = file.slice(0, -'.src.rpm'.length);
  else if (file.endsWith('.nosrc.rpm')) base = file.slice(0, -'.nosrc.rpm'.length);
  else return undefined;
  const r = base.lastIndexOf('-');
  const v = r > 0 ? base.lastIndexOf('-', r - 1) : -1;
  if (v <= 0 || r === v + 1 || r === base.length - 1) return undefined;
  return { name: base.slice(0, v), version: base.slice(v + 1, r), release: base.slice(r + 1) };
}
