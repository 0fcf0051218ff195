import { createReadStream } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { fail, PortcullisError, printable } from '../errors.js';
import { TarReader } from '../image/tar.js';

/** A member of an indexed tar file: where its data starts and how long it is. */
export interface TarMember {
  readonly offset: number;
  readonly size: number;
  readonly type: string;
  readonly linkname: string;
}

/** Most members an archive may list, and most bytes of member names in all, before it is refused as hostile. */
export const ARCHIVE_LIMITS = { members: 1_000_000, nameBytes: 64 * 1024 * 1024 };

/** Most links (hard or symbolic) followed to reach one member, so a loop ends in an error. */
const MAX_LINKS = 8;

/**
 * Random access to the members of an uncompressed tar file (oci-archive, docker-archive): headers
 * are read by seeking, member data is never read until asked for.
 */
export class IndexedTarFile {
  private constructor(
    readonly path: string,
    private readonly members: Map<string, TarMember>,
  ) {}

  static async open(path: string, limits: typeof ARCHIVE_LIMITS = ARCHIVE_LIMITS): Promise<IndexedTarFile> {
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      fail(
        code === 'ENOENT' ? 'NOT_FOUND' : 'ARCHIVE_INVALID',
        `${path}: cannot open archive (${code ?? String(err)})`,
      );
    }
    const members = new Map<string, TarMember>();
    let nameBytes = 0;
    try {
      const where = `archive ${path}`;
      let pos = 0;
      const reader = new TarReader({
        where,
        onEntry: (e) => {
          if (members.size >= limits.members) fail('ARCHIVE_INVALID', `${where}: more than ${limits.members} members`);
          // Every name is kept while the archive is open: a million 4 KiB names would be 4 GB.
          nameBytes += Buffer.byteLength(e.path) + Buffer.byteLength(e.linkname);
          if (nameBytes > limits.nameBytes) {
            fail('ARCHIVE_INVALID', `${where}: member names pass ${limits.nameBytes} bytes in all`);
          }
          members.set(e.path, { offset: pos, size: e.size, type: e.type, linkname: e.linkname });
          return undefined;
        },
      });
      const block = Buffer.alloc(512);
      for (;;) {
        const skip = reader.skippable();
        if (skip > 0) {
          reader.skip(skip);
          pos += skip;
          continue;
        }
        if (reader.ended) break;
        const { bytesRead } = await fh.read(block, 0, 512, pos);
        if (bytesRead === 0) break;
        pos += bytesRead;
        reader.push(bytesRead === 512 ? block : block.subarray(0, bytesRead));
      }
      reader.finish();
      const { size } = await fh.stat();
      for (const [name, m] of members) {
        if (m.offset + m.size > size) fail('ARCHIVE_INVALID', `${where}: member ${name} runs past the end of the file`);
      }
    } catch (err) {
      if (err instanceof PortcullisError && err.code === 'LAYER_INVALID') {
        throw new PortcullisError('ARCHIVE_INVALID', err.message, { cause: err });
      }
      throw err;
    } finally {
      await fh.close();
    }
    return new IndexedTarFile(path, members);
  }

  /**
   * The member at `name` (normalised, no leading `./`), following hardlinks (named from the archive root) and
   * symlinks (relative to the link's directory): legacy `docker save` writes `<id>/layer.tar -> ../<other>/layer.tar`
   * when two layers share a diff_id. A link out of the archive, or a chain of more than MAX_LINKS, is refused.
   */
  member(name: string): TarMember | undefined {
    let at = name;
    let m = this.members.get(at);
    for (let hops = 0; m && (m.type === 'hardlink' || m.type === 'symlink'); hops++) {
      if (hops === MAX_LINKS)
        fail('ARCHIVE_INVALID', `${this.path}: member ${name} is behind more than ${MAX_LINKS} links`);
      at = m.type === 'hardlink' ? m.linkname : this.symlinkTarget(name, at, m.linkname);
      m = this.members.get(at);
    }
    return m && m.type === 'file' ? m : undefined;
  }

  /** The normalised member path a symlink at `at` points to; `name` is the member first asked for. */
  private symlinkTarget(name: string, at: string, target: string): string {
    const refuse = (why: string): never =>
      fail('ARCHIVE_INVALID', `${this.path}: member ${name} links to '${printable(target)}', ${why}`);
    if (target.startsWith('/')) refuse('an absolute path');
    const out = at.split('/').slice(0, -1);
    for (const part of target.split('/')) {
      if (part === '' || part === '.') continue;
      if (part !== '..') out.push(part);
      else if (out.pop() === undefined) refuse('outside the archive');
    }
    return out.join('/');
  }

  names(): IterableIterator<string> {
    return this.members.keys();
  }

  /** Stream a member's bytes. */
  openMember(name: string): Readable {
    const m = this.member(name);
    if (!m) fail('NOT_FOUND', `${this.path}: no member ${name}`);
    if (m.size === 0) return createReadStream(this.path, { start: 1, end: 0 });
    return createReadStream(this.path, { start: m.offset, end: m.offset + m.size - 1, highWaterMark: 1024 * 1024 });
  }

  /** Read a whole member, refusing members over `max` bytes. */
  async readMember(name: string, max: number): Promise<Buffer> {
    const m = this.member(name);
    if (!m) fail('NOT_FOUND', `${this.path}: no member ${name}`);
    if (m.size > max)
      fail('MANIFEST_TOO_LARGE', `${this.path}: member ${name} is ${m.size} bytes, over the ${max}-byte limit`);
    const fh = await open(this.path, 'r');
    try {
      const buf = Buffer.alloc(m.size);
      const { bytesRead } = await fh.read(buf, 0, m.size, m.offset);
      if (bytesRead !== m.size) fail('ARCHIVE_INVALID', `${this.path}: member ${name} is truncated`);
      return buf;
    } finally {
      await fh.close();
    }
  }
}
