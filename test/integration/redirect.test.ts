import { readFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { EXAMPLE } from '../helpers/paths.js';
import { freePort } from '../helpers/registry.js';

/**
 * Blob redirects to object storage (S3, CDNs) are something the test registry's filesystem driver cannot show,
 * so a small loopback stand-in plays registry and storage here. The storage must never see the credentials,
 * on the first hop or any later one.
 */
describe('blob redirects', () => {
  it('follows redirects to storage and back within it without ever sending the registry credentials', async () => {
    const index = JSON.parse(readFileSync(join(EXAMPLE, 'index.json'), 'utf8'));
    const manifestDigest: string = index.manifests[0].digest;
    const blob = (d: string) => readFileSync(join(EXAMPLE, 'blobs', 'sha256', d.slice(7)));
    const manifest = JSON.parse(blob(manifestDigest).toString());
    const seen: string[] = [];
    const storagePort = await freePort();
    const registryPort = await freePort();
    const storage = http.createServer((req, res) => {
      seen.push(`${req.url?.split('/')[1]} ${req.headers.authorization ?? '-'}`);
      if (req.url?.startsWith('/hop/')) {
        res.writeHead(307, { location: `/final/${req.url.slice(5)}` });
        res.end();
        return;
      }
      res.end(blob(req.url?.slice(7) ?? ''));
    });
    const basic = `Basic ${Buffer.from('alice:s3cret').toString('base64')}`;
    const registry = http.createServer((req, res) => {
      if (req.headers.authorization !== basic) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="test"' });
        res.end();
        return;
      }
      const m = /^\/v2\/demo\/(manifests|blobs)\/(.+)$/.exec(req.url ?? '');
      if (m?.[1] === 'manifests') {
        res.writeHead(200, {
          'content-type': 'application/vnd.oci.image.manifest.v1+json',
          'docker-content-digest': manifestDigest,
        });
        res.end(blob(manifestDigest));
      } else if (m?.[2] === manifest.config.digest) {
        res.end(blob(manifest.config.digest));
      } else {
        res.writeHead(307, { location: `http://localhost:${storagePort}/hop/${m?.[2]}` });
        res.end();
      }
    });
    await new Promise<void>((r) => storage.listen(storagePort, '127.0.0.1', () => r()));
    await new Promise<void>((r) => registry.listen(registryPort, '127.0.0.1', () => r()));
    try {
      const host = `127.0.0.1:${registryPort}`;
      const r = await runCli([
        'sbom',
        `${host}/demo:latest`,
        '-f',
        'json',
        '--insecure-registry',
        host,
        '--creds',
        'alice:s3cret',
      ]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout).packages.length).toBeGreaterThan(10);
      expect(seen.filter((s) => s.startsWith('final')).length).toBe(manifest.layers.length);
      expect(seen.every((s) => s.endsWith(' -'))).toBe(true);
    } finally {
      storage.close();
      registry.close();
    }
  });
});
