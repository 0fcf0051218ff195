import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fail } from '../errors.js';
import { digestOf, parseDigest, verifyBytes } from './digest.js';
import { type Descriptor, MAX_MANIFEST_BYTES, parseManifest } from './manifest.js';
import type { FetchedManifest, ImageSource } from './source.js';

/** skopeo's `dir:` copy format: manifest.json plus blobs named by their hex digest. */
export function openSkopeoDir(dir: string): ImageSource {
  const blobFile = (digest: string): string => join(dir, parseDigest(digest, `dir:${dir}`).hex);
  const readCapped = async (path: string, max: number): Promise<Buffer> => {
    const st = await stat(path).catch(() => fail('NOT_FOUND', `${path}: missing from the skopeo dir copy`));
    if (!st.isFile()) fail('MANIFEST_INVALID', `${path}: not a regular file`);
    if (st.size > max) fail('MANIFEST_TOO_LARGE', `${path}: ${st.size} bytes, over the ${max}-byte limit`);
    return readFile(path);
  };
  return {
    description: `dir:${dir}`,
    async root(): Promise<FetchedManifest> {
      const bytes = await readCapped(join(dir, 'manifest.json'), MAX_MANIFEST_BYTES);
      const digest = digestOf(bytes);
      return { digest, bytes, manifest: parseManifest(bytes, `dir:${dir}/manifest.json`) };
    },
    async manifest(desc: Descriptor): Promise<FetchedManifest> {
      const bytes = await readCapped(blobFile(desc.digest), MAX_MANIFEST_BYTES);
      verifyBytes(bytes, desc.digest, `manifest ${desc.digest}`);
      return { digest: desc.digest, bytes, manifest: parseManifest(bytes, `manifest ${desc.digest}`, desc.mediaType) };
    },
    async blob(desc: Descriptor, max: number): Promise<Buffer> {
      const bytes = await readCapped(blobFile(desc.digest), max);
      verifyBytes(bytes, desc.digest, `blob ${desc.digest}`);
      return bytes;
    },
    async openBlob(desc: Descriptor): Promise<Readable> {
      const path = blobFile(desc.digest);
      const st = await stat(path).catch(() => fail('NOT_FOUND', `${path}: blob missing from the skopeo dir copy`));
      if (!st.isFile()) fail('MANIFEST_INVALID', `${path}: blob is not a regular file`);
      return createReadStream(path, { highWaterMark: 1024 * 1024 });
    },
    async close() {},
  };
}
