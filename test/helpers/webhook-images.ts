import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './cli.js';
import { type Creds, EXAMPLE_DIGEST, KEY_PASSWORD, skopeo, skopeoTls } from './gate.js';
import { EXAMPLE } from './paths.js';
import { startRegistry, type TestRegistry } from './registry.js';

/**
 * The images the `k8s webhook` tests decide on: a CNCF distribution registry (TLS from a test CA, htpasswd) holding the
 * example image under several repositories, pushed by skopeo, signed and attested by `portcullis sign` and `attest`:
 *   prod/app        signed by the trusted key (gate), PASS assessment
 *   staging/app     the same, outside the production globs
 *   prod/otherkey   signed and attested by another key
 *   prod/failed     signed by gate, FAIL assessment
 *   prod/signedonly signed by gate, never assessed
 *   prod/unsigned   pushed only
 * Keys in `tmp`: gate.key/gate.pub (trusted) and other.key/other.pub. `configFile`: a K8sConfig with
 * productionRegistries `HOST/prod/**`, pssLevel baseline, namespace `strict` at restricted.
 */
export interface SignedImages {
  readonly tmp: string;
  readonly reg: TestRegistry;
  readonly creds: Creds;
  readonly configFile: string;
  /** The CLI's registry connection flags (CA and credentials). */
  connection(): string[];
  /** `HOST/repo@EXAMPLE_DIGEST`. */
  at(repo: string): string;
  stop(): Promise<void>;
}

export const WEBHOOK_CREDS: Creds = { user: 'webhook', password: 'W3bh00k-Pa55' };
export const WEBHOOK_KEY_ENV = { COSIGN_PASSWORD: KEY_PASSWORD };

export async function startSignedImages(): Promise<SignedImages> {
  const tmp = mkdtempSync(join(tmpdir(), 'portcullis-webhook-'));
  const creds = WEBHOOK_CREDS;
  let reg: TestRegistry | undefined;
  try {
    reg = await startRegistry({ tls: true, auth: creds });
    const r = reg;
    const connection = () => ['--ca-cert', r.pki?.caCert as string, '--creds', `${creds.user}:${creds.password}`];
    const cli = async (args: string[]) => {
      const res = await runCli([...args, ...connection()], WEBHOOK_KEY_ENV);
      if (res.code !== 0) throw new Error(`portcullis ${args.slice(0, 2).join(' ')}: exit ${res.code}: ${res.stderr}`);
    };
    const signAndAttest = async (repo: string, key: string, decision: 'PASS' | 'FAIL' | undefined) => {
      await cli(['sign', `docker://${r.host}/${repo}:1`, '--key', join(tmp, `${key}.key`)]);
      if (!decision) return;
      const predicate = join(tmp, `${repo.replace(/\//g, '-')}-${decision}.json`);
      writeFileSync(predicate, JSON.stringify({ decision, assessedAt: new Date().toISOString() }));
      const keyFile = join(tmp, `${key}.key`);
      await cli([
        'attest',
        `docker://${r.host}/${repo}:1`,
        '--key',
        keyFile,
        '--predicate',
        predicate,
        '--type',
        'assessment',
      ]);
    };
    for (const k of ['gate', 'other']) {
      const res = await runCli(['keygen', '--output-key-prefix', join(tmp, k)], WEBHOOK_KEY_ENV);
      if (res.code !== 0) throw new Error(`portcullis keygen: exit ${res.code}: ${res.stderr}`);
    }
    for (const repo of [
      'prod/app',
      'prod/unsigned',
      'prod/otherkey',
      'prod/failed',
      'prod/signedonly',
      'staging/app',
    ]) {
      const dest = `docker://${r.host}/${repo}:1`;
      await skopeo(
        'copy',
        '--quiet',
        '--preserve-digests',
        ...skopeoTls(r, creds, 'dest'),
        `oci:${EXAMPLE}:latest`,
        dest,
      );
    }
    await signAndAttest('prod/app', 'gate', 'PASS');
    await signAndAttest('staging/app', 'gate', 'PASS');
    await signAndAttest('prod/otherkey', 'other', 'PASS');
    await signAndAttest('prod/failed', 'gate', 'FAIL');
    await signAndAttest('prod/signedonly', 'gate', undefined);
    const configFile = join(tmp, 'k8s.yaml');
    writeFileSync(
      configFile,
      [
        'apiVersion: portcullis.dev/v1alpha1',
        'kind: K8sConfig',
        'pssLevel: baseline',
        `productionRegistries: [${r.host}/prod/**]`,
        'pssLevels: { strict: restricted }',
        '',
      ].join('\n'),
    );
    return {
      tmp,
      reg: r,
      creds,
      configFile,
      connection,
      at: (repo) => `${r.host}/${repo}@${EXAMPLE_DIGEST}`,
      async stop() {
        await r.stop();
        rmSync(tmp, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await reg?.stop();
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}
