import { createHash, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MediaType } from '../../src/oci/mediatypes.js';
import { generateKeyPair, publicKeyPem } from '../../src/sign/keys.js';
import type { SignatureStore, StoredManifest } from '../../src/sign/store.js';
import { parseWatchConfig, type WatchConfig, type WatchedRegistry } from '../../src/watch/config.js';

/**
 * An in-memory distribution-like registry for unit tests (plain HTTP on 127.0.0.1, an ephemeral port): catalog, tag
 * lists, manifests by tag or digest (HEAD, GET, DELETE), blobs (GET). Content is put in directly, never over HTTP, and
 * any request can be made to fail or be observed with `intercept`. Only what the watcher reads is served.
 */

interface Stored {
  readonly bytes: Buffer;
  readonly mediaType: string;
}

export const sha256 = (b: Uint8Array | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A JSON manifest's bytes and digest. */
export function manifestBytes(doc: unknown): { bytes: Buffer; digest: string } {
  const bytes = Buffer.from(JSON.stringify(doc));
  return { bytes, digest: sha256(bytes) };
}

export class FakeRegistry {
  readonly manifests = new Map<string, Map<string, Stored>>();
  readonly tags = new Map<string, Map<string, string>>();
  readonly blobs = new Map<string, Buffer>();
  /** `METHOD path` of every request, in order. */
  readonly requests: string[] = [];
  /** Return true after answering `res` itself to take over a request (a fault, a delay, a race). */
  intercept: ((req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>) | undefined;
  private server: Server | undefined;
  host = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      void this.handle(req, res).catch(() => {
        res.statusCode = 500;
        res.end();
      });
    });
    await new Promise<void>((r) => this.server?.listen(0, '127.0.0.1', () => r()));
    const a = this.server.address();
    this.host = `127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
    return this;
  }

  close(): Promise<void> {
    return new Promise((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  /** Registry options that reach this registry (plain HTTP, no retries to wait for). */
  options() {
    return { insecureRegistries: [this.host], retries: 1 };
  }

  putBlob(bytes: Buffer): string {
    const d = sha256(bytes);
    this.blobs.set(d, bytes);
    return d;
  }

  /** Store a manifest (any bytes: malformed ones too) and point `tag` at it when given; returns its digest. */
  putManifest(repo: string, bytes: Buffer, mediaType: string, tag?: string): string {
    const d = sha256(bytes);
    const ms = this.manifests.get(repo) ?? new Map<string, Stored>();
    this.manifests.set(repo, ms);
    ms.set(d, { bytes, mediaType });
    if (tag !== undefined) this.tag(repo, tag, d);
    return d;
  }

  tag(repo: string, tag: string, digest: string): void {
    const ts = this.tags.get(repo) ?? new Map<string, string>();
    this.tags.set(repo, ts);
    ts.set(tag, digest);
  }

  /** A small image (config and one tar layer blob stored) under `tag`; `salt` makes it unique. */
  putImage(repo: string, tag: string | undefined, salt: string): string {
    const config = this.putBlob(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', salt })));
    const layer = this.putBlob(Buffer.from(`layer ${salt}`));
    const m = manifestBytes({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: MediaType.ociConfig, digest: config, size: 10 },
      layers: [{ mediaType: MediaType.ociLayerGzip, digest: layer, size: 10 }],
    });
    return this.putManifest(repo, m.bytes, MediaType.ociManifest, tag);
  }

  /** An OCI index of `children` under `tag`. */
  putIndex(repo: string, tag: string | undefined, children: readonly string[]): string {
    const m = manifestBytes({
      schemaVersion: 2,
      mediaType: MediaType.ociIndex,
      manifests: children.map((digest, i) => ({
        mediaType: MediaType.ociManifest,
        digest,
        size: 10,
        platform: { os: 'linux', architecture: i === 0 ? 'amd64' : 'arm64' },
      })),
    });
    return this.putManifest(repo, m.bytes, MediaType.ociIndex, tag);
  }

  /** A SignatureStore over one repository, writing straight into the registry (for signImage / attestImage). */
  store(repo: string): SignatureStore {
    return {
      description: `docker://${this.host}/${repo}`,
      getManifest: async (ref): Promise<StoredManifest | undefined> => {
        const d = ref.includes(':') ? ref : this.tags.get(repo)?.get(ref);
        const m = d ? this.manifests.get(repo)?.get(d) : undefined;
        return m && d ? { digest: d, mediaType: m.mediaType, bytes: m.bytes } : undefined;
      },
      getBlob: async (digest) => {
        const b = this.blobs.get(digest);
        if (!b) throw new Error(`no blob ${digest}`);
        return b;
      },
      putBlob: async (bytes) => {
        this.putBlob(Buffer.from(bytes));
      },
      putManifest: async (bytes, mediaType, tag) => this.putManifest(repo, Buffer.from(bytes), mediaType, tag),
    };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    this.requests.push(`${req.method} ${url.pathname}`);
    if (this.intercept && (await this.intercept(req, res))) return;
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const unknown = () => json(404, { errors: [{ code: 'NAME_UNKNOWN', message: 'repository name not known' }] });
    if (url.pathname === '/v2/' || url.pathname === '/v2') return json(200, {});
    if (url.pathname === '/v2/_catalog') return json(200, { repositories: [...this.tags.keys()].sort() });
    const m = /^\/v2\/(.+)\/(tags\/list|manifests|blobs)(?:\/([^/]+))?$/.exec(url.pathname);
    if (!m) return json(404, {});
    const [, repo = '', kind, ref = ''] = m;
    if (kind === 'tags/list') {
      const ts = this.tags.get(repo);
      return ts ? json(200, { name: repo, tags: [...ts.keys()].sort() }) : unknown();
    }
    if (kind === 'blobs') {
      const b = this.blobs.get(ref);
      if (!b) return json(404, { errors: [{ code: 'BLOB_UNKNOWN' }] });
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'docker-content-digest': ref });
      return void res.end(b);
    }
    const digest = ref.includes(':') ? ref : this.tags.get(repo)?.get(ref);
    const stored = digest ? this.manifests.get(repo)?.get(digest) : undefined;
    if (!digest || !stored) return json(404, { errors: [{ code: 'MANIFEST_UNKNOWN' }] });
    if (req.method === 'DELETE') {
      this.manifests.get(repo)?.delete(digest);
      const ts = this.tags.get(repo);
      for (const [t, d] of ts ?? []) if (d === digest) ts?.delete(t);
      res.writeHead(202);
      return void res.end();
    }
    res.writeHead(200, {
      'content-type': stored.mediaType,
      'docker-content-digest': digest,
      'content-length': String(stored.bytes.length),
    });
    res.end(req.method === 'HEAD' ? undefined : stored.bytes);
  }
}

/** A fake registry with a trust policy (prod/** signed by `gate.pub`) in a temporary directory, for watch tests. */
export class WatchedFake {
  private constructor(
    readonly tmp: string,
    readonly reg: FakeRegistry,
  ) {}

  static async start(prefix: string, publicKey: KeyObject = generateKeyPair().publicKey): Promise<WatchedFake> {
    const tmp = mkdtempSync(join(tmpdir(), prefix));
    const reg = await new FakeRegistry().start();
    writeFileSync(join(tmp, 'gate.pub'), publicKeyPem(publicKey));
    writeFileSync(
      join(tmp, 'trust.yaml'),
      `version: 1\nrepositories:\n  - match: ${reg.host}/prod/**\n    keys: [gate.pub]\n`,
    );
    return new WatchedFake(tmp, reg);
  }

  /** A watch configuration of this registry: the repositories given, quarantine as given (else the default). */
  config(repositories = 'prod/**', quarantine?: string): WatchConfig {
    const text = [
      'apiVersion: portcullis.dev/v1alpha1',
      'kind: WatchConfig',
      'registries:',
      `  - { host: "${this.reg.host}", repositories: [${repositories}], trustPolicy: trust.yaml, maxAssessmentAge: 7d${quarantine ? `, quarantine: ${quarantine}` : ''} }`,
    ].join('\n');
    return parseWatchConfig(text, join(this.tmp, 'watch.yaml'));
  }

  /** The configuration's one registry entry. */
  entry(repositories?: string, quarantine?: string): WatchedRegistry {
    return this.config(repositories, quarantine).registries[0] as WatchedRegistry;
  }

  async close(): Promise<void> {
    await this.reg.close();
    rmSync(this.tmp, { recursive: true, force: true });
  }
}
