import type { Readable } from 'node:stream';
import { fail, PortcullisError } from '../errors.js';
import { normaliseMemberPath } from '../image/tar.js';
import { digestOf, parseDigest, verifyBytes } from './digest.js';
import { LayoutSource, tarFiles } from './layout.js';
import {
  type Descriptor,
  type ImageManifest,
  MAX_CONFIG_BYTES,
  MAX_MANIFEST_BYTES,
  parseImageConfig,
} from './manifest.js';
import { MediaType } from './mediatypes.js';
import type { FetchedManifest, ImageSource } from './source.js';
import { IndexedTarFile } from './tarfile.js';

interface SaveEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

/**
 * `docker-archive:FILE[:ref]`, the output of `docker save`. Its manifest.json names a config and
 * layer tars by path; there is no registry manifest, so a Docker v2s2 manifest is synthesised from
 * the config and the layers' diff_ids (as skopeo does when it copies such an archive).
 */
class DockerArchiveSource implements ImageSource {
  private readonly layerPaths = new Map<string, string>();
  private synthesized: FetchedManifest | undefined;
  private configBytes: Buffer | undefined;

  constructor(
    readonly description: string,
    private readonly tar: IndexedTarFile,
    private readonly entry: SaveEntry,
  ) {}

  async root(): Promise<FetchedManifest> {
    if (this.synthesized) return this.synthesized;
    const where = `${this.tar.path}: config ${this.entry.Config}`;
    const configPath = normaliseMemberPath(this.entry.Config, where);
    // Only an absent config is "missing": one too large or unreadable fails as itself.
    const config = await this.tar.readMember(configPath, MAX_CONFIG_BYTES).catch((err: unknown) => {
      if (err instanceof PortcullisError && err.code === 'NOT_FOUND') return undefined;
      throw err;
    });
    if (!config) fail('ARCHIVE_INVALID', `${where} is missing from the archive`);
    const configDigest = digestOf(config);
    // Legacy archives name the config by its own sha256; newer ones store it under blobs/sha256/.
    const named = /(?:^|\/)([a-f0-9]{64})(?:\.json)?$/.exec(configPath)?.[1];
    if (named && `sha256:${named}` !== configDigest) {
      fail('DIGEST_MISMATCH', `${where}: content hashes to ${configDigest}, its name says sha256:${named}`);
    }
    const parsed = parseImageConfig(config, `config ${configDigest}`, this.entry.Layers.length);
    const layers: Descriptor[] = this.entry.Layers.map((p, i) => {
      const path = normaliseMemberPath(p, `${this.tar.path}: layer ${p}`);
      const m = this.tar.member(path);
      if (!m) fail('ARCHIVE_INVALID', `${this.tar.path}: layer ${p} is missing from the archive`);
      const diffId = parsed.rootfs.diff_ids[i] as string;
      this.layerPaths.set(diffId, path);
      return { mediaType: MediaType.dockerLayer, digest: diffId, size: m.size };
    });
    this.configBytes = config;
    const manifest: ImageManifest = {
      kind: 'image',
      mediaType: MediaType.dockerManifest,
      config: { mediaType: MediaType.dockerConfig, digest: configDigest, size: config.length },
      layers,
    };
    const bytes = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: manifest.mediaType,
        config: manifest.config,
        layers: manifest.layers,
      }),
    );
    this.synthesized = { digest: digestOf(bytes), bytes, manifest };
    return this.synthesized;
  }

  async manifest(desc: Descriptor): Promise<FetchedManifest> {
    const root = await this.root();
    if (desc.digest !== root.digest) fail('NOT_FOUND', `${this.description}: no manifest ${desc.digest}`);
    return root;
  }

  async blob(desc: Descriptor): Promise<Buffer> {
    await this.root();
    if (!this.configBytes || desc.digest !== digestOf(this.configBytes))
      fail('NOT_FOUND', `${this.description}: no blob ${desc.digest}`);
    verifyBytes(this.configBytes, desc.digest, `config ${desc.digest}`);
    return this.configBytes;
  }

  async openBlob(desc: Descriptor): Promise<Readable> {
    const path = this.layerPaths.get(desc.digest);
    if (!path) fail('NOT_FOUND', `${this.description}: no layer ${desc.digest}`);
    return this.tar.openMember(path);
  }

  async close(): Promise<void> {}
}

/** Open `docker-archive:FILE[:ref]`, where ref is `repo:tag` from RepoTags or `@N` for the N-th image. */
export async function openDockerArchive(file: string, ref?: string): Promise<ImageSource> {
  const tar = await IndexedTarFile.open(file);
  const description = `docker-archive:${file}${ref ? `:${ref}` : ''}`;
  const raw = tar.member('manifest.json') ? await tar.readMember('manifest.json', MAX_MANIFEST_BYTES) : undefined;
  if (!raw) {
    if (tar.member('oci-layout')) return new LayoutSource(description, tarFiles(tar), ref);
    fail('ARCHIVE_INVALID', `${file}: not a docker save archive (no manifest.json)`);
  }
  let entries: SaveEntry[];
  try {
    entries = JSON.parse(raw.toString('utf8')) as SaveEntry[];
  } catch (err) {
    fail('ARCHIVE_INVALID', `${file}: manifest.json is not valid JSON (${(err as Error).message})`);
  }
  if (
    !Array.isArray(entries) ||
    entries.some(
      (e) =>
        typeof e?.Config !== 'string' ||
        !Array.isArray(e.Layers) ||
        e.Layers.some((l) => typeof l !== 'string') ||
        !(e.RepoTags == null || (Array.isArray(e.RepoTags) && e.RepoTags.every((t) => typeof t === 'string'))),
    )
  ) {
    fail(
      'ARCHIVE_INVALID',
      `${file}: manifest.json must list {Config, Layers, RepoTags?} entries (RepoTags a list of strings)`,
    );
  }
  let entry: SaveEntry | undefined;
  if (ref?.startsWith('@')) {
    entry = entries[Number(ref.slice(1))];
  } else if (ref) {
    const wanted = [ref, `${ref}:latest`, `docker.io/${ref}`, `docker.io/library/${ref}`];
    entry = entries.find((e) => (e.RepoTags ?? []).some((t) => wanted.includes(t)));
  } else if (entries.length === 1) {
    entry = entries[0];
  } else {
    const tags = entries.flatMap((e) => e.RepoTags ?? []);
    fail(
      'BAD_REFERENCE',
      `${description}: the archive holds ${entries.length} images; name one (${tags.join(', ') || '@0, @1, ...'})`,
    );
  }
  if (!entry) fail('NOT_FOUND', `${description}: no such image in the archive`);
  for (const l of entry.Layers) {
    const hex = /blobs\/sha256\/([a-f0-9]{64})$/.exec(l)?.[1];
    if (hex) parseDigest(`sha256:${hex}`, file);
  }
  return new DockerArchiveSource(description, tar, entry);
}
