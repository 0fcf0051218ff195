import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { createSecureContext, rootCertificates } from 'node:tls';
import { MANIFEST_ACCEPT } from '../src/oci/mediatypes.js';
import { isCosignTag } from '../src/watch/classify.js';

/*
 * Figure 8's floor, run as its own node process like the CLI it is measured against: the catalog, each watched
 * repository's tag list, then a bare HEAD per image tag (cosign's signature tags left out, as the watcher does), with
 * the client settings of src/oci/registry/http.ts (keep-alive agent, 8 sockets, TLS 1.2+, the test CA), the same
 * Accept header and the watcher's concurrency (repositories in turn, 4 tags at once). It writes each tag's
 * Docker-Content-Digest to OUT, to be held against the watcher's report.
 *
 * argv: HOST CA_FILE USER:PASSWORD REPO,REPO,... OUT
 */

const [host, caFile, creds, repoList, out] = process.argv.slice(2) as [string, string, string, string, string];
const CONCURRENCY = 4;
const agent = new https.Agent({
  keepAlive: true,
  maxSockets: 8,
  minVersion: 'TLSv1.2',
  secureContext: createSecureContext({
    minVersion: 'TLSv1.2',
    ca: [...rootCertificates, readFileSync(caFile, 'utf8')],
  }),
});
const authorization = `Basic ${Buffer.from(creds).toString('base64')}`;

function request(method: 'GET' | 'HEAD', path: string): Promise<{ headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      `https://${host}${path}`,
      { method, agent, headers: { authorization, accept: MANIFEST_ACCEPT } },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => {
          if (res.statusCode !== 200) reject(new Error(`${method} ${path}: HTTP ${res.statusCode}`));
          else resolve({ headers: res.headers, body: Buffer.concat(parts) });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const digests: Record<string, string> = {};
const catalog = JSON.parse((await request('GET', '/v2/_catalog')).body.toString('utf8')) as {
  repositories: string[];
};
for (const repo of repoList.split(',')) {
  if (!catalog.repositories.includes(repo)) throw new Error(`${repo} is not in the catalog`);
  const list = JSON.parse((await request('GET', `/v2/${repo}/tags/list`)).body.toString('utf8')) as { tags: string[] };
  const tags = list.tags.filter((t) => !isCosignTag(t)).sort();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tags.length) {
      const tag = tags[next++] as string;
      const res = await request('HEAD', `/v2/${repo}/manifests/${tag}`);
      digests[`${repo}:${tag}`] = String(res.headers['docker-content-digest']);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}
agent.destroy();
writeFileSync(out, JSON.stringify(digests));
