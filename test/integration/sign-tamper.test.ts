import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signatureTag } from '../../src/sign/sigimage.js';
import { runCli } from '../helpers/cli.js';
import { LayoutWriter } from '../helpers/oci.js';
import { EXAMPLE } from '../helpers/paths.js';

/**
 * Each kind of tampering with a signed image fails `portcullis verify` (exit 1) with a message that says which kind;
 * done to OCI layouts on disk, the way an attacker with write access to a registry's storage would.
 */

const pw = { COSIGN_PASSWORD: 'tamper-test' };
const REPO = 'registry.example/team/app';
const REF = 'org.opencontainers.image.ref.name';
let tmp: string;
let key: string;
let other: string;
let digestA: string;
let digestB: string;

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

interface Index {
  manifests: { mediaType: string; digest: string; size: number; annotations?: Record<string, string> }[];
}

function readIndex(dir: string): Index {
  return JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
}

function tagged(dir: string, tag: string): string {
  const e = readIndex(dir).manifests.find((m) => m.annotations?.[REF] === tag);
  if (!e) throw new Error(`no tag ${tag}`);
  return e.digest;
}

function blob(dir: string, digest: string): Buffer {
  return readFileSync(join(dir, 'blobs', 'sha256', digest.slice(7)));
}

function putBlob(dir: string, data: Buffer | string): string {
  const d = sha(data);
  writeFileSync(join(dir, 'blobs', 'sha256', d.slice(7)), data);
  return d;
}

/** Point `tag` at a manifest (written as a blob), replacing what it named. */
function setTag(dir: string, tag: string, manifest: Buffer | string): void {
  const digest = putBlob(dir, manifest);
  const index = readIndex(dir);
  index.manifests = index.manifests.filter((m) => m.annotations?.[REF] !== tag);
  index.manifests.push({
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest,
    size: Buffer.byteLength(manifest),
    annotations: { [REF]: tag },
  });
  writeFileSync(join(dir, 'index.json'), JSON.stringify(index));
}

/** A fresh layout holding image A (tag `a`, signed and attested) and image B (tag `b`, signed). */
async function signedLayout(name: string): Promise<string> {
  const dir = join(tmp, name);
  cpSync(join(tmp, 'base'), dir, { recursive: true });
  for (const tag of ['a', 'b']) {
    const s = await runCli(['sign', `oci:${dir}:${tag}`, '--key', key, '--identity', REPO], pw);
    expect(s.code, s.stderr).toBe(0);
  }
  const a = await runCli(
    ['attest', `oci:${dir}:a`, '--key', key, '--identity', REPO, '--predicate', join(tmp, 'pred.json')],
    pw,
  );
  expect(a.code, a.stderr).toBe(0);
  return dir;
}

function sigManifest(dir: string, digest: string, kind: 'sig' | 'att' = 'sig') {
  return JSON.parse(blob(dir, tagged(dir, signatureTag(digest, kind))).toString('utf8'));
}

async function verify(dir: string, tag: string, ...extra: string[]) {
  return runCli(['verify', `oci:${dir}:${tag}`, '--key', `${key.slice(0, -4)}.pub`, '--identity', REPO, ...extra]);
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'portcullis-tamper-'));
  key = join(tmp, 'k.key');
  other = join(tmp, 'other');
  expect((await runCli(['keygen', '--output-key-prefix', join(tmp, 'k')], pw)).code).toBe(0);
  expect((await runCli(['keygen', '--output-key-prefix', other], pw)).code).toBe(0);
  writeFileSync(join(tmp, 'pred.json'), JSON.stringify({ decision: 'PASS', assessedAt: '2026-11-01T00:00:00Z' }));
  // Image A is the example image; image B is a second, different image in the same layout.
  const base = join(tmp, 'base');
  cpSync(EXAMPLE, base, { recursive: true });
  const indexA = readIndex(base);
  const b = new LayoutWriter(base).image([Buffer.alloc(1024)]);
  writeFileSync(
    join(base, 'index.json'),
    JSON.stringify({
      ...indexA,
      manifests: [
        { ...(indexA.manifests[0] as object), annotations: { [REF]: 'a' } },
        { ...b, annotations: { [REF]: 'b' } },
      ],
    }),
  );
  digestA = tagged(base, 'a');
  digestB = tagged(base, 'b');
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('verify: untouched images pass', () => {
  it('both images verify, with the attestation of A', async () => {
    const dir = await signedLayout('clean');
    const a = await verify(dir, 'a', '--attestation', 'assessment');
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toContain(`Verified oci:${dir}:a (${digestA}) for ${REPO}`);
    expect(a.stdout).toContain('attestation 1: https://portcullis.dev/attestation/assessment/v1');
    expect((await verify(dir, 'b')).code).toBe(0);
    expect((await verify(dir, `@${digestA}`)).code).toBe(0);
  });
});

describe('verify: each kind of tampering fails with its own message (exit 1)', () => {
  it('wrong key: names the key it was made with (Portcullis hint) or says it is another key (no hint)', async () => {
    const dir = await signedLayout('wrong-key');
    const r = await runCli(['verify', `oci:${dir}:a`, '--key', `${other}.pub`, '--identity', REPO]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^portcullis: NOT_VERIFIED: .*signature 1 of 1: wrong key: the signature does not verify with .*other\.pub \(it was made with key sha256:[0-9a-f]{64}\)/m,
    );
    // A signature without the unsigned hint (as cosign writes them): the message cannot tell, and says both.
    const m = sigManifest(dir, digestA);
    delete m.layers[0].annotations['dev.portcullis/signer-key'];
    setTag(dir, signatureTag(digestA, 'sig'), JSON.stringify(m));
    const r2 = await runCli(['verify', `oci:${dir}:a`, '--key', `${other}.pub`, '--identity', REPO]);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toContain('wrong key: the signature does not verify with');
    expect(r2.stderr).toContain('(made with another key, or edited after signing)');
  });

  it('payload edited in place: the blob no longer matches its digest in the signature manifest', async () => {
    const dir = await signedLayout('edited-in-place');
    const layer = sigManifest(dir, digestA).layers[0];
    const path = join(dir, 'blobs', 'sha256', layer.digest.slice(7));
    writeFileSync(path, blob(dir, layer.digest).toString().replace('"optional":null', '"optional":{"x":"y"}'));
    const r = await verify(dir, 'a');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /signature 1 of 1: payload edited: its blob hashes to sha256:[0-9a-f]{64}, the signature manifest says/,
    );
  });

  it('payload edited and re-uploaded consistently (new digest in the manifest): the signature no longer verifies', async () => {
    const dir = await signedLayout('edited-rehashed');
    const m = sigManifest(dir, digestA);
    // Re-point A's signature at image B: the classic replay edit.
    const edited = blob(dir, m.layers[0].digest).toString().replace(digestA, digestB);
    m.layers[0].digest = putBlob(dir, edited);
    m.layers[0].size = Buffer.byteLength(edited);
    setTag(dir, signatureTag(digestB, 'sig'), JSON.stringify(m));
    const r = await verify(dir, 'b');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /signature 1 of 1: payload edited after signing: it was signed with .*k\.pub, which no longer verifies it/,
    );
  });

  it('moved tag: the tag now names an unsigned image', async () => {
    const dir = await signedLayout('moved-tag');
    const c = new LayoutWriter(dir).image([Buffer.alloc(2048)]);
    setTag(dir, 'a', blob(dir, c.digest));
    const r = await verify(dir, 'a');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `no valid signature: no signatures: ${signatureTag(c.digest, 'sig')} is not in oci:${dir}`,
    );
  });

  it("swapped signature: another image's valid signature put under this digest is a digest mismatch", async () => {
    const dir = await signedLayout('swapped');
    setTag(dir, signatureTag(digestB, 'sig'), blob(dir, tagged(dir, signatureTag(digestA, 'sig'))));
    const r = await verify(dir, 'b');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `signature 1 of 1: digest mismatch: the signature is for ${digestA}, the image is ${digestB} (moved tag or swapped manifest)`,
    );
  });

  it("swapped attestation: another image's attestation is a subject digest mismatch", async () => {
    const dir = await signedLayout('swapped-att');
    setTag(dir, signatureTag(digestB, 'att'), blob(dir, tagged(dir, signatureTag(digestA, 'att'))));
    const r = await verify(dir, 'b', '--attestation', 'assessment');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `no valid attestation: attestation 1 of 1: digest mismatch: the attestation's subject is ${digestA}`,
    );
  });

  it('a required assessment must say PASS: a later signed FAIL, or one without a decision, does not verify', async () => {
    const dir = await signedLayout('failed-assessment');
    const later = join(tmp, 'fail-pred.json');
    writeFileSync(later, JSON.stringify({ decision: 'FAIL', assessedAt: '2026-11-02T00:00:00Z' }));
    const attest = (pred: string) =>
      runCli(['attest', `oci:${dir}:a`, '--key', key, '--identity', REPO, '--predicate', pred], pw);
    expect((await attest(later)).code).toBe(0);
    const r = await verify(dir, 'a', '--attestation', 'assessment');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('the latest verified assessment (2026-11-02T00:00:00Z, key');
    expect(r.stderr).toContain(') says FAIL');
    // The signature alone still verifies: the image is signed, only not approved.
    expect((await verify(dir, 'a')).code).toBe(0);
    const undecided = await signedLayout('undecided-assessment');
    const none = join(tmp, 'none-pred.json');
    writeFileSync(none, JSON.stringify({ note: 'no decision' }));
    expect(
      (
        await runCli(
          [
            'attest',
            `oci:${undecided}:b`,
            '--key',
            key,
            '--identity',
            REPO,
            '--predicate',
            none,
            '--type',
            'assessment',
          ],
          pw,
        )
      ).code,
    ).toBe(0);
    const u = await verify(undecided, 'b', '--attestation', 'assessment');
    expect(u.code).toBe(1);
    expect(u.stderr).toContain('verified assessment attestation(s) without a PASS/FAIL decision and assessedAt');
  });

  it('a required attestation type that is not there', async () => {
    const dir = await signedLayout('missing-type');
    const r = await verify(dir, 'a', '--attestation', 'cyclonedx');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no verified attestation of type https://cyclonedx.org/bom');
    const none = await verify(dir, 'b', '--attestation', 'assessment');
    expect(none.code).toBe(1);
    expect(none.stderr).toContain(`no attestations: ${signatureTag(digestB, 'att')} is not in`);
  });

  it('repository mismatch: signed for one repository, verified for another', async () => {
    const dir = await signedLayout('repo');
    const r = await runCli([
      'verify',
      `oci:${dir}:a`,
      '--key',
      join(tmp, 'k.pub'),
      '--identity',
      'registry.example/other/app',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`repository mismatch: signed for '${REPO}', expected 'registry.example/other/app'`);
  });

  it('malformed: not base64, not DER, wrong media type, a manifest that is not JSON', async () => {
    const SIG = 'dev.cosignproject.cosign/signature';
    type Layer = { mediaType: string; size: number; annotations: Record<string, string> };
    const onLayer = (edit: (l: Layer) => void) => (m: { layers: Layer[] }) => {
      edit(m.layers[0] as Layer);
      return JSON.stringify(m);
    };
    const cases: [string, (m: { layers: Layer[] }) => string, string][] = [
      ['b64', onLayer((l) => (l.annotations[SIG] = '!!!!')), 'annotation is not base64'],
      [
        'der',
        onLayer((l) => (l.annotations[SIG] = Buffer.alloc(64, 1).toString('base64'))),
        'not an ASN.1 DER ECDSA signature',
      ],
      ['none', onLayer((l) => delete l.annotations[SIG]), `no ${SIG} annotation`],
      ['type', onLayer((l) => (l.mediaType = 'application/json')), "media type 'application/json' is not a signature"],
      ['json', () => '{"schemaVersion":2,', 'signatures malformed:'],
      ['size', onLayer((l) => (l.size = 2 * 1024 * 1024)), 'declares 2097152 bytes, over what is read'],
    ];
    for (const [name, edit, msg] of cases) {
      const dir = await signedLayout(`malformed-${name}`);
      setTag(dir, signatureTag(digestA, 'sig'), edit(sigManifest(dir, digestA)));
      const r = await verify(dir, 'a');
      expect(r.code, name).toBe(1);
      expect(r.stderr, name).toContain(msg);
    }
  });

  it('one good signature beside a bad one verifies, as cosign does, and the bad one is reported', async () => {
    const dir = await signedLayout('mixed');
    const s = await runCli(['sign', `oci:${dir}:a`, '--key', `${other}.key`, '--identity', 'registry.example/x/y'], pw);
    expect(s.code).toBe(0);
    const r = await verify(dir, 'a');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/ignored: signature 2 of 2: wrong key/);
  });
});

describe('verify: input errors are exit 2, not a verdict', () => {
  it('missing key file, missing --identity, a layout manifest whose bytes changed', async () => {
    const dir = await signedLayout('inputs');
    const noKey = await runCli(['verify', `oci:${dir}:a`, '--key', join(tmp, 'absent.pub'), '--identity', REPO]);
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toMatch(/^portcullis: NOT_FOUND: .*absent\.pub: no such key file/m);
    const noId = await runCli(['verify', `oci:${dir}:a`, '--key', join(tmp, 'k.pub')]);
    expect(noId.code).toBe(2);
    expect(noId.stderr).toContain('give --identity host/repo');
    writeFileSync(join(dir, 'blobs', 'sha256', digestA.slice(7)), '{"schemaVersion":2}');
    const corrupt = await verify(dir, 'a');
    expect(corrupt.code).toBe(2);
    expect(corrupt.stderr).toMatch(/^portcullis: DIGEST_MISMATCH: /m);
  });
});

describe('verify --trust-policy', () => {
  it('takes the keys and required attestations of the first matching entry', async () => {
    const dir = await signedLayout('policy');
    const policy = join(tmp, 'trust.yaml');
    writeFileSync(
      policy,
      [
        'version: 1',
        'repositories:',
        '  - match: registry.example/team/*',
        '    keys: [k.pub]',
        '    attestations: [assessment]',
        '  - match: registry.example/**',
        `    keys: ["${readFileSync(`${other}.pub`, 'utf8').replaceAll('\n', '\\n')}"]`,
        '',
      ].join('\n'),
    );
    expect((await runCli(['verify', `oci:${dir}:a`, '--trust-policy', policy, '--identity', REPO])).code).toBe(0);
    // B is signed but has no assessment attestation, which the entry requires.
    const b = await runCli(['verify', `oci:${dir}:b`, '--trust-policy', policy, '--identity', REPO]);
    expect(b.code).toBe(1);
    expect(b.stderr).toContain('no valid attestation: no attestations:');
    // The second entry trusts only the other key (inline PEM).
    const r = await runCli([
      'verify',
      `oci:${dir}:a`,
      '--trust-policy',
      policy,
      '--identity',
      'registry.example/ops/x',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/wrong key: the signature does not verify with .*trust\.yaml:6 key 1/);
    const none = await runCli([
      'verify',
      `oci:${dir}:a`,
      '--trust-policy',
      policy,
      '--identity',
      'elsewhere.example/a',
    ]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('elsewhere.example/a: no entry of');
  });

  it('with policies, counts only assessments made under one of the gate policies it names', async () => {
    const dir = await signedLayout('gate-policies');
    const prodText = 'apiVersion: portcullis.dev/v1alpha1\nkind: ImagePolicy\nname: prod\nrules: {}\n';
    const devText = 'apiVersion: portcullis.dev/v1alpha1\nkind: ImagePolicy\nname: dev\nrules: {}\n';
    writeFileSync(join(tmp, 'prod.yaml'), prodText);
    writeFileSync(join(tmp, 'dev.yaml'), devText);
    const digestOf = (text: string) => `sha256:${createHash('sha256').update(text).digest('hex')}`;
    // A PASS by the same key, later than pred.json's, but under the lax dev policy.
    const dev = join(tmp, 'dev-pred.json');
    writeFileSync(
      dev,
      JSON.stringify({
        decision: 'PASS',
        assessedAt: '2026-11-03T00:00:00Z',
        policy: { name: 'dev', file: 'dev.yaml', digest: digestOf(devText) },
      }),
    );
    const attested = await runCli(['attest', `oci:${dir}:a`, '--key', key, '--identity', REPO, '--predicate', dev], pw);
    expect(attested.code, attested.stderr).toBe(0);
    const trust = (policies: string) => {
      const file = join(tmp, 'trust-policies.yaml');
      writeFileSync(
        file,
        `version: 1\nrepositories:\n  - match: registry.example/**\n    keys: [k.pub]\n    attestations: [assessment]\n    policies: ${policies}\n`,
      );
      return runCli(['verify', `oci:${dir}:a`, '--trust-policy', file, '--identity', REPO]);
    };
    const prod = await trust('[prod.yaml]');
    expect(prod.code, prod.stderr).toBe(1);
    expect(prod.stderr).toContain(
      '2 verified assessments made under a policy the trust policy does not name for this repository',
    );
    // Named by file or by digest, the dev policy's PASS is the one that counts.
    expect((await trust('[prod.yaml, dev.yaml]')).code).toBe(0);
    expect((await trust(`["${digestOf(devText)}"]`)).code).toBe(0);
    // Naming policies requires an assessment, even where the entry lists no attestations: image B has none.
    const file = join(tmp, 'trust-policies-only.yaml');
    writeFileSync(
      file,
      'version: 1\nrepositories:\n  - match: registry.example/**\n    keys: [k.pub]\n    policies: [dev.yaml]\n',
    );
    const unassessed = await runCli(['verify', `oci:${dir}:b`, '--trust-policy', file, '--identity', REPO]);
    expect(unassessed.code, unassessed.stdout).toBe(1);
    expect(unassessed.stderr).toContain('no valid attestation');
    const directory = await trust(`[${tmp}]`);
    expect(directory.code).toBe(2);
    expect(directory.stderr).toMatch(
      /^portcullis: CONFIG_INVALID: .*trust-policies\.yaml:3: policies: .*: not a regular file$/m,
    );
    const missing = await trust('[absent.yaml]');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(
      /NOT_FOUND: .*trust-policies\.yaml:3: policies: .*absent\.yaml: no such policy file/,
    );
  });
});
