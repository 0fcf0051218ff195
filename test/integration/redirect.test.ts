import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { RegistryClient } from '../../src/oci/registry/client.js';
import { runCli } from '../helpers/cli.js';
import { EXAMPLE } from '../helpers/paths.js';
import { freePort, makePki } from '../helpers/registry.js';

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

  it('trusts the --cert-dir CA for storage on another host, without the credentials or the client certificate', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'portcullis-redirect-'));
    const pki = makePki(join(tmp, 'pki'));
    // --cert-dir: the private CA and a client certificate (the server's pair does for one)
    const certDir = join(tmp, 'certs');
    mkdirSync(certDir);
    copyFileSync(pki.caCert, join(certDir, 'ca.crt'));
    copyFileSync(pki.serverCert, join(certDir, 'client.cert'));
    copyFileSync(pki.serverKey, join(certDir, 'client.key'));
    const tls = {
      cert: readFileSync(pki.serverCert),
      key: readFileSync(pki.serverKey),
      requestCert: true,
      rejectUnauthorized: false,
    };
    const seen: string[] = [];
    const clientCert = (req: http.IncomingMessage) =>
      Object.keys((req.socket as TLSSocket).getPeerCertificate()).length ? 'cert' : 'no-cert';
    const storage = https.createServer(tls, (req, res) => {
      seen.push(`storage ${req.headers.authorization ?? '-'} ${clientCert(req)}`);
      res.end('blob bytes');
    });
    await new Promise<void>((r) => storage.listen(0, '127.0.0.1', () => r()));
    const storagePort = (storage.address() as { port: number }).port;
    const registry = https.createServer(tls, (req, res) => {
      seen.push(`registry ${req.headers.authorization ? 'auth' : '-'} ${clientCert(req)}`);
      if (!req.headers.authorization) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="test"' });
        res.end();
        return;
      }
      res.writeHead(307, { location: `https://localhost:${storagePort}/b?sig=1` });
      res.end();
    });
    await new Promise<void>((r) => registry.listen(0, '127.0.0.1', () => r()));
    const host = `127.0.0.1:${(registry.address() as { port: number }).port}`;
    const client = new RegistryClient(host, { certDir, creds: 'alice:s3cret', retries: 1, env: {} });
    try {
      const res = await client.fetchBody(`/v2/demo/blobs/sha256:${'0'.repeat(64)}`, 'demo', {
        what: 'blob',
        maxBytes: 100,
      });
      expect(res.bytes.toString()).toBe('blob bytes');
      expect(seen).toEqual(['registry - cert', 'registry auth cert', 'storage - no-cert']);
    } finally {
      client.close();
      storage.close();
      registry.close();
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
