import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SecretSettings } from '../../src/checks/settings.js';
import type { StreamAnalyzer } from '../../src/image/collect.js';
import { type FileInfo, FileTree, newLayerChanges } from '../../src/image/filetree.js';
import { ALLOWED_PATHS, builtinAllowed } from '../../src/secrets/allow.js';
import { SecretScanner } from '../../src/secrets/scanner.js';
import { walkTestLayers } from '../helpers/layers.js';
import { leaks, makeKeys, makeTokens, SETTINGS, scanFiles } from '../helpers/secrets.js';

const keys = makeKeys();
const t = makeTokens();

function fileInfo(path: string, size: number, layer = 0): FileInfo {
  return { path, type: 'file', mode: 0o644, uid: 0, gid: 0, size, mtime: 0, linkname: '', layer };
}

/** A tree holding the one file, so `finish` sees it as present. */
function treeWith(info: FileInfo): FileTree {
  const tree = new FileTree();
  const changes = newLayerChanges(info.layer);
  changes.entries.set(info.path, { info });
  tree.apply(changes);
  return tree;
}

/** Feed one file to a fresh scanner in the given chunks, as the tar reader would, and finish it. */
function scanChunks(path: string, chunks: readonly Buffer[], settings: SecretSettings = SETTINGS) {
  const size = chunks.reduce((n, c) => n + c.length, 0);
  const info = fileInfo(path, size);
  const scanner = new SecretScanner(settings);
  const req = scanner.wants(info);
  if (req?.kind !== 'stream') throw new Error(`scanner did not ask to stream ${path}`);
  const a: StreamAnalyzer = req.create(info);
  let fed = 0;
  for (const c of chunks) {
    if (a.done) break;
    a.write(c);
    fed++;
  }
  a.end();
  return { hits: scanner.finish(treeWith(info)), fed, done: a.done === true };
}

function cut(buf: Buffer, points: readonly number[]): Buffer[] {
  const at = [...new Set(points.map((p) => p % (buf.length + 1)))].sort((x, y) => x - y);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of [...at, buf.length]) {
    out.push(buf.subarray(prev, p));
    prev = p;
  }
  return out;
}

describe('secret scanner: streaming', () => {
  const planted = [
    keys['ssh-keygen ed25519'] as string,
    `aws_secret_access_key = ${t.awsSecret}`,
    t.ghp,
    `key=${t.google}`,
    keys['puttygen ed25519 (PPK v3)'] as string,
    `https://hooks.slack.com/services/${t.slackWebhookPath}`,
    t.awsKeyId,
    `"AccountKey=${t.azureKey}"`,
    `DSN=postgres://app:${t.password}@db.internal:5432/app`,
  ];
  // Filler rich in keyword fragments and near misses, so windows merge, split and cross chunk boundaries.
  const filler = fc.array(
    fc.constantFrom(
      'x',
      ' ',
      '\n',
      'AKI',
      'A',
      'gh',
      'p_',
      'PRIVATE KEY',
      '-----',
      'secret_access',
      '_key',
      '\r\n',
      'AIza',
      '://',
      'a:b@',
    ),
    { maxLength: 80 },
  );

  it('a file cut at arbitrary chunk boundaries gives the same hits as one chunk', () => {
    fc.assert(
      fc.property(
        fc.array(filler, { minLength: planted.length + 1, maxLength: planted.length + 1 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        (fills, points) => {
          let text = fills[0]?.join('') ?? '';
          planted.forEach((p, i) => {
            text += `\n${p}\n${fills[i + 1]?.join('') ?? ''}`;
          });
          const buf = Buffer.from(text, 'latin1');
          const whole = scanChunks('srv/mixed.txt', [buf]).hits;
          expect(new Set(whole.map((h) => h.ruleId))).toEqual(
            new Set([
              'private-key',
              'aws-secret-access-key',
              'github-token',
              'google-api-key',
              'slack-webhook',
              'aws-access-key-id',
              'azure-storage-key',
              'url-credentials',
            ]),
          );
          expect(scanChunks('srv/mixed.txt', cut(buf, points)).hits).toEqual(whole);
          // One byte at a time: every keyword and every match crosses a boundary.
          if (points.length === 0) expect(scanChunks('srv/mixed.txt', cut(buf, [...buf.keys()])).hits).toEqual(whole);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('lines count across chunks (LF and CRLF)', () => {
    const text = `${'line\r\n'.repeat(5000)}${t.npm}\n${'x\n'.repeat(3)}${t.ghp}\n`;
    const buf = Buffer.from(text);
    for (const size of [1, 7, 4096, buf.length]) {
      const chunks = cut(
        buf,
        Array.from({ length: Math.ceil(buf.length / size) }, (_, i) => i * size),
      );
      expect(scanChunks('a.txt', chunks).hits.map((h) => [h.ruleId, h.line])).toEqual([
        ['npm-token', 5001],
        ['github-token', 5005],
      ]);
    }
  });

  it('binary files are dropped at the first NUL within 8 KiB, and the reader is told to stop', () => {
    const token = Buffer.from(`\n${t.ghp}\n`);
    const elf = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]), token, Buffer.alloc(1 << 20, 0x41)]);
    const r = scanChunks('usr/bin/tool', [elf.subarray(0, 4096), elf.subarray(4096)]);
    expect(r.hits).toEqual([]);
    expect(r.done).toBe(true);
    expect(r.fed).toBe(1);
    // The NUL arriving in a later chunk still drops what the first chunk found, as one chunk would.
    const late = Buffer.concat([token, Buffer.alloc(5000, 0x20), Buffer.from([0]), Buffer.alloc(100, 0x20)]);
    expect(scanChunks('a.bin', [late.subarray(0, token.length + 10), late.subarray(token.length + 10)]).hits).toEqual(
      [],
    );
    expect(scanChunks('a.bin', [late]).hits).toEqual([]);
    // A NUL past the first 8 KiB does not make a file binary (git's rule).
    const text = Buffer.concat([token, Buffer.alloc(9000, 0x20), Buffer.from([0]), Buffer.from('tail')]);
    expect(scanChunks('a.txt', [text]).hits.map((h) => h.ruleId)).toEqual(['github-token']);
  });

  it('invalid UTF-8 around a secret: found, and the report text stays printable', () => {
    const junk = Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x82, 0xf0, 0x28, 0x8c, 0xbc]);
    const buf = Buffer.concat([
      junk,
      Buffer.from('\n'),
      junk,
      Buffer.from(`aws_secret_access_key=${t.awsSecret}`),
      junk,
    ]);
    const hits = scanChunks('etc/weird', cut(buf, [3, 17, 40])).hits;
    expect(hits.map((h) => [h.ruleId, h.line])).toEqual([['aws-secret-access-key', 2]]);
    expect(hits[0]?.redacted).toMatch(/^[\x20-\x7e]+$/);
    expect(leaks(hits, t.awsSecret)).toBe(false);
  });

  it('a file dense with keywords completes with nothing reported; hits per file are capped', () => {
    const dense = Buffer.from(
      'AKIA PRIVATE KEY----- ghp_ "type": "service_account", AccountKey= sk_live_ npm_ AIza\nPuTTY-User-Key-File-2: ssh-rsa\n'.repeat(
        80_000,
      ),
    );
    const r = scanChunks('srv/dense', cut(dense, [1 << 20, 2 << 20, 3 << 20, 5 << 20]));
    expect(r.hits).toEqual([]);
    const many = Buffer.from(Array.from({ length: 300 }, () => makeTokens().ghp).join('\n'));
    expect(scanChunks('srv/many', [many]).hits).toHaveLength(100);
  });

  it('files over maxFileBytes, empty files, and allow-listed or skipped paths are not read', async () => {
    const settings: SecretSettings = {
      maxFileBytes: 100,
      skipPaths: ['opt/vendor/**', '**/*.fixture', 'srv/mine/.env'],
      builtinAllow: true,
    };
    const scanner = new SecretScanner(settings);
    const ask = (path: string, size = 50) => scanner.wants(fileInfo(path, size))?.kind;
    expect(ask('srv/app.conf')).toBe('stream');
    expect(ask('srv/app.conf', 101)).toBeUndefined();
    expect(ask('srv/empty', 0)).toBeUndefined();
    expect(ask('opt/vendor/lib/x.pem')).toBeUndefined();
    expect(ask('srv/a/b.fixture')).toBeUndefined();
    // The user's own skipPaths apply even to credential files: that is a choice made on purpose.
    expect(ask('srv/mine/.env')).toBeUndefined();
    expect(ask('srv/app/keys/prod.pem')).toBe('stream');
    expect(ALLOWED_PATHS).toContain('usr/share/doc/**');

    const key = keys['openssl RSA (PKCS#8)'] as string;
    const files = [
      { path: 'usr/share/doc/pkg/examples/key.pem', content: key },
      { path: 'srv/app/keys/prod.pem', content: key },
    ];
    expect((await scanFiles(files)).map((h) => h.path)).toEqual(['srv/app/keys/prod.pem']);
    const off = await scanFiles(files, { ...SETTINGS, builtinAllow: false });
    expect(off.map((h) => h.path)).toEqual(['srv/app/keys/prod.pem', 'usr/share/doc/pkg/examples/key.pem']);
  });

  it('the built-in allow list covers package trees only (in homes too), never credential files or private-key files', () => {
    const noise = [
      'usr/share/doc/openssl/demo.pem',
      'usr/share/man/man1/openssl.1.gz',
      'usr/lib/python3.11/test/keycert.pem',
      'usr/lib/python3.11/test/certdata/keycert.pem',
      'usr/local/lib/python3.12/test/ssl_key.pem',
      'usr/lib/python3/dist-packages/pkg/tests/data/key.pem',
      'opt/venv/lib/python3.11/site-packages/jwt/tests/keys/testkey_rsa.priv',
      'srv/app/node_modules/jws/test/data/private.pem',
      'srv/app/node_modules/@scope/pkg/tests/key.pem',
      'srv/app/node_modules/jws/test.js',
      'srv/app/node_modules/aws-sdk/README.md',
      'usr/local/go/src/crypto/tls/testdata/example-key.pem',
      'usr/local/go/src/crypto/x509/x509_test.go',
      'usr/lib/go-1.19/src/crypto/tls/testdata/example-key.pem',
      'go/pkg/mod/golang.org/x/crypto@v0.21.0/ssh/testdata/keys.go',
      'go/pkg/mod/github.com/docker/distribution@v2.8.3+incompatible/contrib/certs/signing.key',
      'usr/local/bundle/gems/rack-3.0.8/test/spec_request.rb',
      'usr/local/cargo/registry/src/index.crates.io-6f17d22bba15001f/rustls-0.21.0/tests/key.pem',
      // Go's own test key outside testdata; pycryptodome's self-tests.
      'usr/local/go/src/crypto/x509/platform_root_key.pem',
      'usr/local/lib/python3.11/site-packages/Crypto/SelfTest/PublicKey/test_vectors/rsa.pem',
      // A package tree in a home (a virtualenv, pip --user, an app's node_modules) is a package tree.
      'home/app/.venv/lib/python3.11/site-packages/tornado/test/test.key',
      'root/.local/lib/python3.11/site-packages/twisted/test/server.pem',
      'home/node/app/node_modules/jws/test/data/private.pem',
      'root/go/pkg/mod/example.com/m@v1/testdata/key.pem',
    ];
    const real = [
      // What the reviewer found hidden by the old `**/test/**` and `**/*.md` globs.
      'home/test/.ssh/id_rsa',
      'srv/app/tests/.env',
      'app/SECRETS.md',
      // An application's own tests and docs are read: they are shipped too.
      'srv/app/test/fixtures/server.key',
      'srv/app/testdata/prod.pem',
      'go/src/crypto/tls/testdata/example-key.pem',
      'app/__tests__/config.js',
      'srv/app/README.md',
      // Homes outside package trees, credential files and key files are read wherever they are.
      'home/app/keys/prod.pem',
      'root/deploy.key',
      'go/pkg/mod/example.com/m@v1/testdata/id_rsa',
      'usr/share/doc/app/.env',
      'usr/lib/python3.11/test/.pypirc',
      'srv/app/node_modules/pkg/test/.npmrc',
      'usr/local/go/src/x/testdata/.docker/config.json',
      'srv/app/node_modules/pkg/tests/.git-credentials',
      'usr/share/doc/app/id_ed25519',
      'usr/lib/python3.11/test/.ssh/deploy',
      'srv/app/node_modules/pkg/test/deploy.ppk',
    ];
    for (const p of noise) expect(builtinAllowed(p), p).toBe(true);
    for (const p of real) expect(builtinAllowed(p), p).toBe(false);
    const scanner = new SecretScanner(SETTINGS);
    for (const p of real) expect(scanner.wants(fileInfo(p, 50))?.kind, p).toBe('stream');
    // Whatever directory a glob allows, a credential file or a key file below it is still read.
    const dirs = noise.map((p) => p.slice(0, p.lastIndexOf('/'))).filter((d) => builtinAllowed(`${d}/x.pem`));
    expect(dirs.length).toBeGreaterThan(10);
    const names = ['.env', '.env.production', '.npmrc', '.pypirc', '.git-credentials', 'id_rsa', 'id_ecdsa', 'k.ppk'];
    fc.assert(
      fc.property(fc.constantFrom(...dirs), fc.constantFrom(...names), (dir, name) => {
        expect(builtinAllowed(`${dir}/${name}`)).toBe(false);
        expect(builtinAllowed(`${dir}/.ssh/deploy`)).toBe(false);
      }),
    );
  });

  it('files not read are counted by reason, with examples, and said in one note per reason', async () => {
    const settings: SecretSettings = { maxFileBytes: 8192, skipPaths: ['srv/skipped/**'], builtinAllow: true };
    const scanner = new SecretScanner(settings);
    const elf = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]), Buffer.from(t.ghp)]);
    const many = Array.from({ length: 120 }, () => makeTokens().npm).join('\n');
    const { tree } = await walkTestLayers(
      [
        [
          { path: 'srv/app/data.bin', content: 'x'.repeat(10_000) },
          { path: 'srv/app/big.log', content: `${t.ghp}\n${'y'.repeat(9000)}` },
          // Allow-listed or skipped: not read on purpose, so not counted.
          { path: 'usr/share/doc/pkg/changelog', content: 'z'.repeat(10_000) },
          { path: 'srv/skipped/huge', content: 'z'.repeat(10_000) },
          { path: 'usr/bin/a', content: elf },
          { path: 'usr/bin/b', content: elf },
          { path: 'usr/bin/c', content: elf },
          { path: 'usr/bin/d', content: elf },
          { path: 'srv/tokens.txt', content: many },
          { path: 'srv/app/ok.txt', content: 'nothing here\n' },
        ],
      ],
      [scanner],
    );
    expect(scanner.finish(tree).filter((h) => h.path === 'srv/tokens.txt')).toHaveLength(100);
    expect(scanner.skipped).toEqual({
      'too-large': { count: 2, examples: ['/srv/app/data.bin', '/srv/app/big.log'] },
      binary: { count: 4, examples: ['/usr/bin/a', '/usr/bin/b', '/usr/bin/c'] },
      'hit-limit': { count: 1, examples: ['/srv/tokens.txt'] },
    });
    expect(scanner.notes()).toEqual([
      'secrets: 2 files over the 8192-byte limit were not read (e.g. /srv/app/data.bin, /srv/app/big.log); raise secrets.maxFileSize',
      'secrets: 1 file had 100 matches and was not read further (e.g. /srv/tokens.txt)',
    ]);
    // A scan that read everything has nothing to say.
    const clean = new SecretScanner(SETTINGS);
    await walkTestLayers([[{ path: 'srv/app/ok.txt', content: 'nothing here\n' }]], [clean]);
    expect(clean.notes()).toEqual([]);
  });

  it('a key deleted or replaced in a later layer is still reported, marked deleted, with its layer', async () => {
    const scanner = new SecretScanner(SETTINGS);
    const { tree } = await walkTestLayers(
      [
        [
          { path: 'root/.ssh/id_ed25519', content: keys['ssh-keygen ed25519'] as string },
          { path: 'srv/token', content: `${t.ghp}\n` },
          { path: 'srv/kept', content: `${t.npm}\n` },
        ],
        [
          { path: 'root/.ssh/.wh.id_ed25519', content: '' },
          { path: 'srv/token', content: 'rotated\n' },
        ],
      ],
      [scanner],
    );
    expect(scanner.finish(tree).map((h) => [h.ruleId, h.path, h.layer, h.deleted ?? false])).toEqual([
      ['private-key', 'root/.ssh/id_ed25519', 0, true],
      ['npm-token', 'srv/kept', 0, false],
      ['github-token', 'srv/token', 0, true],
    ]);
  });
});
