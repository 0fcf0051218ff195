import type { Readable } from 'node:stream';
import { fail, PortcullisError, printable } from '../../errors.js';
import { DigestVerifier, digestOf, parseDigest, verifyBytes } from '../digest.js';
import { type Descriptor, MAX_MANIFEST_BYTES, parseManifest } from '../manifest.js';
import { MANIFEST_ACCEPT, MediaType } from '../mediatypes.js';
import type { FetchedManifest } from '../source.js';
import type { FetchOptions, RegistryClient } from './client.js';
import { chunkRange, parseLinkNext, uploadedBytes } from './headers.js';
import { discard, type StreamResponse } from './http.js';

/** A manifest as read from a registry: verified bytes, digest, parsed form and the media type to push it with. */
export interface PulledManifest extends FetchedManifest {
  readonly mediaType: string;
}

/** What the registry answered to a manifest PUT. */
export interface PushedManifest {
  readonly digest: string;
  readonly mediaType: string;
  readonly size: number;
  /** The registry sent `OCI-Subject`: it indexes the manifest's subject itself (referrers API). */
  readonly subjectProcessed: boolean;
}

/** How a blob is streamed into a registry. */
export interface UploadOptions {
  /** Blobs larger than this go up in PATCH chunks of this size; smaller ones in one PUT (default 8 MiB). */
  readonly chunkSize?: number;
  /** Attempts for a blob whose source stream breaks or whose upload session goes stale (default 3). */
  readonly attempts?: number;
  /** An upload session already open (the 202 of a mount that fell back to an upload). */
  readonly location?: URL;
  /** Where the bytes come from, for messages (`blob … from host/repo`). */
  readonly source?: string;
  /** Told the offset after each chunk the registry accepted. */
  readonly onChunk?: (offset: number) => void;
}

/** Default upload chunk: large enough for few round trips, small enough that 3 concurrent blobs stay bounded. */
export const DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024;
const MAX_TAG_PAGES = 10_000;
const MAX_TAGS = 1_000_000;
const TAG_RE = /^[\w][\w.-]{0,127}$/;

/** A failure a fresh upload may not meet (the source stream broke, the session went stale): start the blob over. */
class Restart extends Error {
  constructor(readonly error: PortcullisError) {
    super(error.message);
  }
}

/**
 * One repository on one registry, read and written through the distribution API (ref: distribution-spec
 * spec.md: pull, push, content discovery, content management). Every read is verified by digest; every
 * write names the registry, repository and digest when it fails.
 */
export class RegistryRepository {
  constructor(
    readonly client: RegistryClient,
    readonly name: string,
  ) {
    if (!/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/.test(name)) {
      fail('BAD_REFERENCE', `repository '${printable(name, 100)}' must be lowercase path components`);
    }
  }

  /** `host/repository`, for messages. */
  toString(): string {
    return `${this.client.registry}/${this.name}`;
  }

  /** Whether another repository lives on the same registry (a blob can be mounted from it). */
  sameRegistry(other: RegistryRepository): boolean {
    return this.client.origin === other.client.origin;
  }

  private path(rest: string): string {
    return `/v2/${this.name}/${rest}`;
  }

  private fetch(path: string, req: FetchOptions): Promise<StreamResponse> {
    return this.client.fetch(path, this.name, req);
  }

  /** Writes the registry refuses (4xx, or 5xx once retries ran out) are PUSH_FAILED; auth, denial, network keep theirs. */
  private async write<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (err instanceof PortcullisError && (err.code === 'REGISTRY_ERROR' || err.code === 'NOT_FOUND')) {
        throw new PortcullisError('PUSH_FAILED', err.message, { cause: err });
      }
      throw err;
    }
  }

  // ---- manifests ----

  /**
   * A manifest or index by tag or digest, verified: against `expected` (or the digest reference), else
   * against the registry's Docker-Content-Digest. NOT_FOUND when the registry has none.
   */
  async getManifest(
    reference: string,
    opts: { readonly expected?: string; readonly size?: number } = {},
  ): Promise<PulledManifest> {
    return (await this.readManifest(reference, opts, false)) as PulledManifest;
  }

  /** As `getManifest`, but undefined when the registry answers 404. */
  findManifest(
    reference: string,
    opts: { readonly expected?: string; readonly size?: number } = {},
  ): Promise<PulledManifest | undefined> {
    return this.readManifest(reference, opts, true);
  }

  private async readManifest(
    reference: string,
    opts: { readonly expected?: string; readonly size?: number },
    absentOk: boolean,
  ): Promise<PulledManifest | undefined> {
    this.checkReference(reference);
    const expected = opts.expected ?? (reference.includes(':') ? reference : undefined);
    if (expected) parseDigest(expected, `manifest ${this.name}@${printable(expected, 80)}`);
    const what = `manifest ${this.name}:${printable(reference, 80)} on ${this.client.registry}`;
    const res = await this.client.fetchBody(this.path(`manifests/${reference}`), this.name, {
      // Without Accept, distribution 404s OCI manifests and down-converts Docker ones to schema 1.
      headers: { accept: MANIFEST_ACCEPT },
      what,
      maxBytes: MAX_MANIFEST_BYTES,
      ...(absentOk ? { okStatus: [404] } : {}),
    });
    if (res.status === 404) return undefined;
    const bytes = res.bytes;
    const headerDigest = res.headers['docker-content-digest'] as string | undefined;
    let digest: string;
    if (expected) {
      verifyBytes(bytes, expected, what);
      digest = expected;
    } else {
      const algorithm = headerDigest ? parseDigest(headerDigest, `${what} Docker-Content-Digest`).algorithm : 'sha256';
      digest = digestOf(bytes, algorithm);
      if (headerDigest && headerDigest !== digest) {
        fail('DIGEST_MISMATCH', `${what}: content hashes to ${digest}, the registry says ${headerDigest}`);
      }
    }
    if (opts.size !== undefined && bytes.length !== opts.size)
      fail('SIZE_MISMATCH', `${what}: ${bytes.length} bytes, its descriptor declares ${opts.size}`);
    const contentType = (res.headers['content-type'] ?? '').split(';')[0]?.trim() ?? '';
    if (contentType && !contentType.includes('json') && contentType !== MediaType.dockerSchema1Signed) {
      // A registry that answers an HTML page or plain text for a manifest is broken, not the image. A signed schema 1
      // manifest (+prettyjws) is an image, which parseManifest refuses as such.
      fail('REGISTRY_ERROR', `${what}: the registry answered ${printable(contentType, 60)} instead of a manifest`);
    }
    const manifest = parseManifest(bytes, `manifest ${digest}`, contentType || undefined);
    return { digest, bytes, manifest, mediaType: manifest.mediaType };
  }

  /** A tag or a digest, never anything that would change the request path. */
  private checkReference(reference: string): void {
    if (reference.includes(':')) parseDigest(reference, `manifest ${this.name}@${printable(reference, 80)}`);
    else if (!TAG_RE.test(reference)) {
      fail('BAD_REFERENCE', `manifest ${this.name}:${printable(reference, 80)}: not a valid tag or digest`);
    }
  }

  /** Whether the registry holds a manifest under this digest (or tag); its digest as the registry reports it. */
  async headManifest(reference: string): Promise<{ readonly digest: string | undefined } | undefined> {
    this.checkReference(reference);
    const res = await this.fetch(this.path(`manifests/${reference}`), {
      method: 'HEAD',
      headers: { accept: MANIFEST_ACCEPT },
      what: `manifest ${this.name}:${printable(reference, 80)} on ${this.client.registry}`,
      okStatus: [404],
    });
    discard(res);
    if (res.status === 404) return undefined;
    const digest = res.headers['docker-content-digest'];
    return { digest: typeof digest === 'string' ? digest : undefined };
  }

  /**
   * PUT a manifest by digest (default: its own) or by tag, with its media type as Content-Type; the
   * registry's Docker-Content-Digest must be ours.
   */
  async putManifest(
    bytes: Uint8Array,
    opts: { readonly reference?: string; readonly mediaType?: string } = {},
  ): Promise<PushedManifest> {
    if (bytes.length > MAX_MANIFEST_BYTES) {
      fail(
        'MANIFEST_TOO_LARGE',
        `manifest for ${this}: ${bytes.length} bytes, over the ${MAX_MANIFEST_BYTES}-byte limit`,
      );
    }
    const refIsDigest = opts.reference?.includes(':') ?? true;
    const algorithm = refIsDigest && opts.reference ? parseDigest(opts.reference, 'manifest').algorithm : 'sha256';
    const digest = digestOf(bytes, algorithm);
    if (refIsDigest && opts.reference && opts.reference !== digest) {
      fail('DIGEST_MISMATCH', `manifest for ${this}: content hashes to ${digest}, expected ${opts.reference}`);
    }
    if (!refIsDigest && !TAG_RE.test(opts.reference as string)) {
      fail('BAD_REFERENCE', `tag '${printable(opts.reference as string, 140)}' for ${this}: not a valid tag`);
    }
    const mediaType = opts.mediaType ?? parseManifest(bytes, `manifest ${digest}`).mediaType;
    const reference = opts.reference ?? digest;
    const what = `push manifest ${digest}${refIsDigest ? '' : ` as tag ${reference}`} to ${this}`;
    const res = await this.write(() =>
      this.fetch(this.path(`manifests/${reference}`), {
        method: 'PUT',
        push: true,
        headers: { 'content-type': mediaType },
        body: bytes,
        what,
      }),
    );
    discard(res);
    const said = res.headers['docker-content-digest'];
    if (typeof said === 'string' && said !== digest) {
      fail('PUSH_FAILED', `${what}: the registry stored it as ${printable(said, 140)}`);
    }
    return { digest, mediaType, size: bytes.length, subjectProcessed: res.headers['oci-subject'] !== undefined };
  }

  /** DELETE a manifest by digest (or tag, where the registry allows it); false when it was not there. */
  async deleteManifest(reference: string): Promise<boolean> {
    this.checkReference(reference);
    const what = `delete manifest ${reference} from ${this}`;
    const res = await this.write(() =>
      this.fetch(this.path(`manifests/${reference}`), { method: 'DELETE', push: true, what, okStatus: [404] }),
    );
    discard(res);
    return res.status !== 404;
  }

  /**
   * Every tag of the repository, following `Link: <…>; rel="next"` pages; empty when the repository is unknown. With
   * `strictUnknown`, only a 404 carrying distribution's NAME_UNKNOWN error reads as unknown; any other 404 fails.
   */
  async listTags(opts: { readonly pageSize?: number; readonly strictUnknown?: boolean } = {}): Promise<string[]> {
    const tags: string[] = [];
    const seen = new Set<string>();
    const what = `tags of ${this}`;
    let next: URL | undefined = new URL(
      `${this.client.origin}${this.path('tags/list')}${opts.pageSize ? `?n=${opts.pageSize}` : ''}`,
    );
    for (let page = 0; next; page++) {
      if (page >= MAX_TAG_PAGES || seen.has(next.href)) {
        fail('REGISTRY_ERROR', `${what}: the tag list does not end (page ${page + 1})`);
      }
      seen.add(next.href);
      const res = await this.client.fetchBody(next.href, this.name, {
        what,
        okStatus: [404],
        maxBytes: MAX_MANIFEST_BYTES,
        ...(opts.strictUnknown ? { okStatusBody: true } : {}),
      });
      if (res.status === 404) {
        if (page === 0 && opts.strictUnknown && !isNameUnknown(res.bytes)) {
          fail(
            'REGISTRY_ERROR',
            `${what}: HTTP 404 without distribution's NAME_UNKNOWN error, so the repository is not known to be gone (a proxy or route in the way?)`,
          );
        }
        if (page === 0) return [];
        fail('REGISTRY_ERROR', `${what}: page ${page + 1} of the tag list is gone (HTTP 404)`);
      }
      let doc: { tags?: unknown };
      try {
        doc = JSON.parse(res.bytes.toString('utf8'));
      } catch (err) {
        if (err instanceof PortcullisError) throw err;
        fail('REGISTRY_ERROR', `${what}: the tag list is not JSON`);
      }
      const pageTags = doc?.tags ?? [];
      if (!Array.isArray(pageTags) || !pageTags.every((t) => typeof t === 'string')) {
        fail('REGISTRY_ERROR', `${what}: 'tags' is not a list of strings`);
      }
      tags.push(...pageTags);
      if (tags.length > MAX_TAGS) fail('REGISTRY_ERROR', `${what}: more than ${MAX_TAGS} tags`);
      next = parseLinkNext(res.headers.link, res.url);
    }
    return tags;
  }

  // ---- blobs ----

  /** Whether the registry has this blob in this repository (HEAD). */
  async hasBlob(digest: string): Promise<boolean> {
    parseDigest(digest, `blob in ${this}`);
    const res = await this.fetch(this.path(`blobs/${digest}`), {
      method: 'HEAD',
      what: `blob ${digest} in ${this}`,
      okStatus: [404],
    });
    discard(res);
    return res.status !== 404;
  }

  /** A small blob read whole (a signature payload, a config): at most `max` bytes, verified; NOT_FOUND when absent. */
  async getBlob(digest: string, max: number): Promise<Buffer> {
    parseDigest(digest, `blob in ${this}`);
    const what = `blob ${digest} in ${this}`;
    const res = await this.client.fetchBody(this.path(`blobs/${digest}`), this.name, {
      what,
      maxBytes: max,
      tooLarge: 'FILE_TOO_LARGE',
    });
    // Checked after the retries: a blob that hashes wrong is wrong every time, and fails closed at once.
    verifyBytes(res.bytes, digest, what);
    return res.bytes;
  }

  /** The stored bytes of a blob as a stream; the reader verifies them. */
  async openBlob(desc: Descriptor): Promise<Readable> {
    parseDigest(desc.digest, `blob in ${this}`);
    const res = await this.fetch(this.path(`blobs/${desc.digest}`), { what: `blob ${desc.digest} in ${this}` });
    return res.body;
  }

  /**
   * Mount a blob from another repository of this registry. `mounted` when the registry linked it; otherwise
   * the registry opened an upload session instead (202), to be used or cancelled.
   */
  async mountBlob(digest: string, from: string): Promise<{ mounted: true } | { mounted: false; location: URL }> {
    parseDigest(digest, `blob in ${this}`);
    const what = `mount blob ${digest} from ${from} into ${this}`;
    const query = new URLSearchParams({ mount: digest, from });
    const res = await this.write(() =>
      this.fetch(this.path(`blobs/uploads/?${query}`), { method: 'POST', push: true, mountFrom: from, what }),
    );
    discard(res);
    if (res.status === 201) return { mounted: true };
    return { mounted: false, location: this.locationOf(res, what) };
  }

  /** Open an upload session (POST); its URL. */
  async startUpload(digest: string): Promise<URL> {
    const what = `upload of blob ${digest} to ${this}`;
    const res = await this.write(() => this.fetch(this.path('blobs/uploads/'), { method: 'POST', push: true, what }));
    discard(res);
    return this.locationOf(res, what);
  }

  /** Cancel an upload session, best effort: the registry times sessions out anyway. */
  async cancelUpload(location: URL): Promise<void> {
    try {
      const res = await this.fetch(location.href, {
        method: 'DELETE',
        push: true,
        what: `cancel upload to ${this}`,
        okStatus: [404],
        // DELETE is idempotent: one retry covers a kept-alive connection the registry closed after the failure.
        attempts: 2,
      });
      discard(res);
    } catch {
      // ref: distribution-spec: clients SHOULD ignore failures of the cancel request.
    }
  }

  private locationOf(res: StreamResponse, what: string): URL {
    const loc = res.headers.location;
    if (res.status !== 202 || typeof loc !== 'string' || !loc) {
      fail('PUSH_FAILED', `${what}: HTTP ${res.status} without an upload location`);
    }
    try {
      return new URL(loc, res.url);
    } catch {
      fail('PUSH_FAILED', `${what}: the upload location '${printable(loc, 100)}' is not a URL`);
    }
  }

  /** Push a small blob held in memory (a signature payload, a config) unless the registry has it. */
  async putBlob(bytes: Uint8Array, mediaType = 'application/octet-stream'): Promise<Descriptor> {
    const digest = digestOf(bytes);
    const desc: Descriptor = { mediaType, digest, size: bytes.length };
    if (await this.hasBlob(digest)) return desc;
    const location = await this.startUpload(digest);
    await this.commit(location, digest, bytes, `upload of blob ${digest} to ${this}`);
    return desc;
  }

  /**
   * Stream a blob into this repository from `open()`, hashing as it goes: chunks of `chunkSize` are
   * PATCHed as they arrive (one in flight while the next is read: two chunks held at most), and the session is committed only when the
   * bytes hash to the descriptor's digest and size. A source stream that breaks, or a session that goes
   * stale, starts the blob over in a new session (`attempts` times); the old session is cancelled.
   */
  async uploadBlob(desc: Descriptor, open: () => Promise<Readable>, opts: UploadOptions = {}): Promise<void> {
    const what = `upload of blob ${desc.digest} to ${this}`;
    const attempts = Math.max(1, opts.attempts ?? 3);
    let location = opts.location;
    for (let attempt = 1; ; attempt++) {
      location ??= await this.startUpload(desc.digest);
      try {
        await this.streamInto(location, desc, open, opts, what);
        return;
      } catch (err) {
        await this.cancelUpload(location);
        location = undefined;
        if (err instanceof Restart) {
          if (err.error.retryable && attempt < attempts) continue;
          throw err.error;
        }
        throw err;
      }
    }
  }

  private async streamInto(
    start: URL,
    desc: Descriptor,
    open: () => Promise<Readable>,
    opts: UploadOptions,
    what: string,
  ): Promise<void> {
    const chunkSize = Math.max(1, opts.chunkSize ?? DEFAULT_CHUNK_SIZE);
    const where = `blob ${desc.digest} from ${opts.source ?? 'the source'} (copying to ${this})`;
    const verifier = new DigestVerifier(desc.digest, desc.size, where);
    let location = start;
    let offset = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let body: Readable;
    try {
      body = await open();
    } catch (err) {
      throw err instanceof PortcullisError ? new Restart(err) : err;
    }
    // One chunk is PATCHed while the next is read, so the download and the upload overlap (each PATCH needs the
    // location the one before answered, so there is never more than one in flight).
    let inflight: Promise<void> | undefined;
    const send = async (chunk: Buffer): Promise<void> => {
      await inflight;
      const at = offset;
      offset += chunk.length;
      inflight = (async () => {
        location = await this.patch(location, chunk, at, what);
        opts.onChunk?.(at + chunk.length);
      })();
      inflight.catch(() => {}); // handled: a failure is thrown where it is awaited, after the read in progress
    };
    try {
      for await (const chunk of readChunks(body, where)) {
        verifier.update(chunk);
        pending.push(chunk);
        pendingBytes += chunk.length;
        while (pendingBytes >= chunkSize) {
          const all = Buffer.concat(pending, pendingBytes);
          await send(all.subarray(0, chunkSize));
          pending = pendingBytes > chunkSize ? [all.subarray(chunkSize)] : [];
          pendingBytes -= chunkSize;
        }
      }
      await inflight;
    } finally {
      body.destroy();
      // A read that failed while a PATCH was in flight: let it settle before the caller cancels the session.
      await inflight?.catch(() => {});
    }
    verifier.finish();
    const rest = Buffer.concat(pending, pendingBytes);
    if (offset > 0 && rest.length > 0) {
      location = await this.patch(location, rest, offset, what);
      opts.onChunk?.(offset + rest.length);
    }
    await this.commit(location, desc.digest, offset === 0 ? rest : undefined, what);
  }

  /**
   * PATCH one chunk. A session that no longer takes it starts the blob over: distribution binds the upload
   * URL to the offset, so a retried PATCH whose first try landed finds the URL stale (404); 416 is out of order.
   */
  private async patch(location: URL, chunk: Buffer, offset: number, what: string): Promise<URL> {
    const range = chunkRange(offset, chunk.length);
    const res = await this.write(() =>
      this.fetch(location.href, {
        method: 'PATCH',
        push: true,
        headers: { 'content-type': 'application/octet-stream', 'content-range': range },
        body: chunk,
        what: `${what} (bytes ${range})`,
        okStatus: [404, 416],
      }),
    );
    discard(res);
    const held = uploadedBytes(res.headers.range);
    if (res.status === 404 || res.status === 416 || (held !== undefined && held !== offset + chunk.length)) {
      const at = typeof res.headers.range === 'string' ? `, session at ${printable(res.headers.range, 40)}` : '';
      throw new Restart(
        new PortcullisError(
          'PUSH_FAILED',
          `${what}: the upload session did not take bytes ${range} (HTTP ${res.status}${at})`,
          {
            retryable: true,
          },
        ),
      );
    }
    return this.nextLocation(res, location);
  }

  private nextLocation(res: StreamResponse, current: URL): URL {
    const loc = res.headers.location;
    if (typeof loc !== 'string' || !loc) return current;
    try {
      return new URL(loc, res.url);
    } catch {
      return current;
    }
  }

  /** Close a session with `?digest=`; a retried commit whose first try landed finds the session gone. */
  private async commit(location: URL, digest: string, body: Buffer | Uint8Array | undefined, what: string) {
    const url = new URL(location);
    url.searchParams.set('digest', digest);
    let res: StreamResponse;
    try {
      res = await this.write(() =>
        this.fetch(url.href, {
          method: 'PUT',
          push: true,
          headers: { 'content-type': 'application/octet-stream' },
          ...(body ? { body } : {}),
          what,
        }),
      );
    } catch (err) {
      if (err instanceof PortcullisError && err.code === 'PUSH_FAILED' && (await this.hasBlob(digest))) return;
      throw err;
    }
    discard(res);
    const said = res.headers['docker-content-digest'];
    if (typeof said === 'string' && said !== digest) {
      fail('PUSH_FAILED', `${what}: the registry stored it as ${printable(said, 140)}`);
    }
  }
}

/** The chunks of a stream, with its failures turned into Restart (retryable ones restart the blob). */
/** Whether an error body is distribution's `{"errors":[{"code":"NAME_UNKNOWN",…}]}` (the repository does not exist). */
function isNameUnknown(body: Buffer): boolean {
  try {
    const errors = (JSON.parse(body.toString('utf8')) as { errors?: unknown })?.errors;
    return Array.isArray(errors) && errors.some((e) => (e as { code?: unknown } | null)?.code === 'NAME_UNKNOWN');
  } catch {
    return false;
  }
}

async function* readChunks(body: Readable, where: string): AsyncGenerator<Buffer> {
  const it = body[Symbol.asyncIterator]();
  for (;;) {
    let r: IteratorResult<Buffer>;
    try {
      r = await it.next();
    } catch (err) {
      if (err instanceof PortcullisError) throw new Restart(err);
      const code = (err as NodeJS.ErrnoException)?.code ?? (err as Error)?.message ?? 'stream error';
      throw new Restart(
        new PortcullisError('NETWORK', `${where}: the source stream broke (${printable(String(code), 80)})`, {
          cause: err,
          retryable: true,
        }),
      );
    }
    if (r.done) return;
    yield r.value;
  }
}
