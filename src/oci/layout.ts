import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fail } from '../errors.js';
import { parseDigest, verifyBytes } from './digest.js';
import { type Descriptor, MAX_MANIFEST_BYTES, parseManifest } from './manifest.js';
import type { FetchedManifest, ImageSource } from './source.js';
import { IndexedTarFile } from './tarfile.js';

/** Read access to the files of an OCI image layout, wherever they are stored. */
interface LayoutFiles {
  readonly where: string;
  read(name: string, max: number): Promise<Buffer | undefined>;
  open(name: string): Promise<Readable>;
}

function dirFiles(dir: string): LayoutFiles {
  return {
    where: dir,
    async read(name, max) {
      const p = join(dir, name);
      let st: Awaited<ReturnType<typeof stat>>;
      try {
        st = await stat(p);
      } catch {
        return undefined;
      }
      if (!st.isFile()) fail('MANIFEST_INVALID', `${p}: not a regular file`);
      if (st.size > max) fail('MANIFEST_TOO_LARGE', `${p}: ${st.size} bytes, over the ${max}-byte limit`);
      return readFile(p);
    },
    async open(name) {
      const p = join(dir, name);
      const st = await stat(p).catch(() => fail('NOT_FOUND', `${p}: blob is missing from the OCI layout`));
      if (!st.isFile()) fail('MANIFEST_INVALID', `${p}: blob is not a regular file`);
      return createReadStream(p, { highWaterMark: 1024 * 1024 });
    },
  };
}

function tarFiles(tar: IndexedTarFile): LayoutFiles {
  return {
    where: tar.path,
    async read(name, max) {
      return tar.member(name) ? tar.readMember(name, max) : undefined;
    },
    async open(name) {
      return tar.openMember(name);
    },
  };
}

function blobPath(digest: string, where: string): string {
  const { algorithm, hex } = parseDigest(digest, where); // validated: no path can escape blobs/
  return `blobs/${algorithm}/${hex}`;
}

const REF_ANNOTATION = 'org.opencontainers.image.ref.name';

/** An OCI image layout (ref: image-spec image-layout.md) read from a directory or a tar archive. */
class LayoutSource implements ImageSource {
  constructor(
    readonly description: string,
    private readonly files: LayoutFiles,
    private readonly ref: string | undefined,
  ) {}

  async root(): Promise<FetchedManifest> {
    const layoutFile = await this.files.read('oci-layout', 4096);
    if (!layoutFile) fail('NOT_FOUND', `${this.files.where}: not an OCI image layout (no oci-layout file)`);
    const indexBytes = await this.files.read('index.json', MAX_MANIFEST_BYTES);
    if (!indexBytes) fail('NOT_FOUND', `${this.files.where}: OCI layout has no index.json`);
    const index = parseManifest(indexBytes, `${this.files.where}/index.json`);
    if (index.kind !== 'index') fail('MANIFEST_INVALID', `${this.files.where}/index.json is not an image index`);
    const entries = index.manifests;
    let chosen: Descriptor | undefined;
    const ref = this.ref;
    if (ref?.startsWith('@')) {
      chosen = entries.find((d) => d.digest === ref.slice(1));
    } else if (ref) {
      chosen = entries.find((d) => d.annotations?.[REF_ANNOTATION] === ref);
    } else if (entries.length === 1) {
      chosen = entries[0];
    } else {
      const names = entries.map((d) => d.annotations?.[REF_ANNOTATION]).filter(Boolean);
      fail(
        'BAD_REFERENCE',
        `${this.description}: the layout holds ${entries.length} images; name one (${names.join(', ') || 'by @digest'})`,
      );
    }
    if (!chosen) {
      const names = entries.map((d) => d.annotations?.[REF_ANNOTATION]).filter(Boolean);
      fail(
        'NOT_FOUND',
        `${this.description}: no image '${ref}' in the layout (it has: ${names.join(', ') || 'no named refs'})`,
      );
    }
    return this.manifest(chosen);
  }

  async manifest(desc: Descriptor): Promise<FetchedManifest> {
    const where = `manifest ${desc.digest}`;
    const bytes = await this.files.read(blobPath(desc.digest, where), MAX_MANIFEST_BYTES);
    if (!bytes) fail('NOT_FOUND', `${this.files.where}: ${where} is missing from the layout`);
    verifyBytes(bytes, desc.digest, where);
    if (bytes.length !== desc.size)
      fail('SIZE_MISMATCH', `${where}: ${bytes.length} bytes, its descriptor declares ${desc.size}`);
    return { digest: desc.digest, bytes, manifest: parseManifest(bytes, where, desc.mediaType) };
  }

  async blob(desc: Descriptor, max: number): Promise<Buffer> {
    const bytes = await this.files.read(blobPath(desc.digest, 'blob'), max);
    if (!bytes) fail('NOT_FOUND', `${this.files.where}: blob ${desc.digest} is missing from the layout`);
    verifyBytes(bytes, desc.digest, `blob ${desc.digest}`);
    return bytes;
  }

  openBlob(desc: Descriptor): Promise<Readable> {
    return this.files.open(blobPath(desc.digest, 'blob'));
  }

  async close(): Promise<void> {}
}

/** `oci:DIR[:ref]`. */
export function openOciLayout(dir: string, ref?: string): ImageSource {
  return new LayoutSource(`oci:${dir}${ref ? `:${ref}` : ''}`, dirFiles(dir), ref);
}

/** `oci-archive:FILE[:ref]`: a tar of an OCI layout, read in place without extracting. */
export async function openOciArchive(file: string, ref?: string): Promise<ImageSource> {
  const tar = await IndexedTarFile.open(file);
  return new LayoutSource(`oci-archive:${file}${ref ? `:${ref}` : ''}`, tarFiles(tar), ref);
}

export { type LayoutFiles, LayoutSource, tarFiles };
