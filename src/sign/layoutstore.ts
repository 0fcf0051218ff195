import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fail, printable } from '../errors.js';
import { digestOf, parseDigest, verifyBytes } from '../oci/digest.js';
import { type Descriptor, MAX_MANIFEST_BYTES, parseManifest } from '../oci/manifest.js';
import { MediaType } from '../oci/mediatypes.js';
import type { SignatureStore, StoredManifest } from './store.js';

const REF_ANNOTATION = 'org.opencontainers.image.ref.name';

/**
 * A `SignatureStore` over an OCI image layout directory (ref: image-spec image-layout.md): blobs under
 * `blobs/<alg>/<hex>`, tags as `org.opencontainers.image.ref.name` annotations of `index.json` entries, as skopeo and
 * umoci write them. Every file is written to a temporary name and renamed, so a crash leaves the old or the new.
 * Two writers at once on one layout can lose a tag update (the last index.json wins).
 */
export class LayoutSignatureStore implements SignatureStore {
  readonly description: string;
  constructor(private readonly dir: string) {
    this.description = `oci:${dir}`;
  }

  private blobPath(digest: string): string {
    const { algorithm, hex } = parseDigest(digest, `${this.description}: blob`);
    return join(this.dir, 'blobs', algorithm, hex);
  }

  private async index(): Promise<{ doc: Record<string, unknown>; entries: Descriptor[] }> {
    let layout: Buffer;
    try {
      layout = await readFile(join(this.dir, 'oci-layout'));
    } catch {
      return fail('NOT_FOUND', `${this.description}: not an OCI image layout (no oci-layout file)`);
    }
    if (layout.length > 4096) fail('MANIFEST_INVALID', `${this.description}/oci-layout is not a layout marker`);
    const bytes = await readBounded(join(this.dir, 'index.json'), MAX_MANIFEST_BYTES, `${this.description}/index.json`);
    const index = parseManifest(bytes, `${this.description}/index.json`);
    if (index.kind !== 'index') fail('MANIFEST_INVALID', `${this.description}/index.json is not an image index`);
    return { doc: JSON.parse(bytes.toString('utf8')) as Record<string, unknown>, entries: [...index.manifests] };
  }

  async getManifest(ref: string): Promise<StoredManifest | undefined> {
    const { entries } = await this.index();
    const byDigest = /^sha(256|512):/.test(ref);
    const entry = byDigest
      ? entries.find((d) => d.digest === ref)
      : entries.find((d) => d.annotations?.[REF_ANNOTATION] === ref);
    if (!entry && !byDigest) return undefined;
    const digest = entry?.digest ?? ref;
    const where = `${this.description}: manifest ${digest}`;
    let bytes: Buffer;
    try {
      bytes = await readBounded(this.blobPath(digest), MAX_MANIFEST_BYTES, where);
    } catch (err) {
      if (byDigest && !entry && (err as { code?: string }).code === 'NOT_FOUND') return undefined;
      throw err;
    }
    verifyBytes(bytes, digest, where);
    const mediaType = entry?.mediaType ?? parseManifest(bytes, where).mediaType;
    return { digest, mediaType, bytes };
  }

  getBlob(digest: string, max: number): Promise<Buffer> {
    return readBounded(this.blobPath(digest), max, `${this.description}: blob ${digest}`);
  }

  async putBlob(bytes: Uint8Array, digest: string): Promise<void> {
    verifyBytes(bytes, digest, `blob to store in ${this.description}`);
    const path = this.blobPath(digest);
    const existing = await stat(path).catch(() => undefined);
    if (existing?.isFile() && existing.size === bytes.length) return;
    await mkdir(join(path, '..'), { recursive: true });
    await writeAtomically(path, bytes);
  }

  async putManifest(bytes: Uint8Array, mediaType: string, tag: string): Promise<string> {
    if (!/^[\w][\w.-]{0,127}$/.test(tag)) fail('BAD_REFERENCE', `'${printable(tag, 140)}' is not a valid tag`);
    const digest = digestOf(bytes);
    await this.putBlob(bytes, digest);
    const { doc, entries } = await this.index();
    const rawEntries = (doc.manifests as unknown[]).filter((_, i) => entries[i]?.annotations?.[REF_ANNOTATION] !== tag);
    rawEntries.push({ mediaType, digest, size: bytes.length, annotations: { [REF_ANNOTATION]: tag } });
    const next = { ...doc, schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: rawEntries };
    await writeAtomically(join(this.dir, 'index.json'), Buffer.from(JSON.stringify(next)));
    return digest;
  }
}

async function readBounded(path: string, max: number, where: string): Promise<Buffer> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, 'r');
  } catch {
    return fail('NOT_FOUND', `${where}: missing (${path})`);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) fail('NOT_FOUND', `${where}: not a regular file`);
    if (st.size > max) fail('FILE_TOO_LARGE', `${where}: ${st.size} bytes, over the ${max}-byte limit`);
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}

async function writeAtomically(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    fail('OUTPUT_FAILED', `${path}: cannot write (${(err as Error).message})`);
  }
}
