import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SecretHit } from '../../src/checks/model.js';
import type { SecretSettings } from '../../src/checks/settings.js';
import { inventoryImage } from '../../src/inventory/image.js';
import { openOciLayout } from '../../src/oci/layout.js';
import { resolveImages } from '../../src/oci/source.js';
import { mask } from '../../src/secrets/redact.js';
import { SecretScanner } from '../../src/secrets/scanner.js';
import { type LayerEntry, makeTar } from '../helpers/layers.js';
import { leaks, makeKeys, makeTokens, SETTINGS } from '../helpers/secrets.js';

/**
 * Real images built by umoci from tars made here: layer 1 adds an ssh key (ssh-keygen) and an .npmrc with a token,
 * layer 2 deletes the key with a whiteout. A twin image has the same shape without secrets. Both are walked by
 * `inventoryImage` with the scanner riding along, as `scan` does.
 */
let tmp: string;
let layout: string;
const keys = makeKeys();
const tokens = makeTokens();
const sshKey = keys['ssh-keygen ed25519'] as string;

function buildImage(
  tag: string,
  layers: readonly (readonly LayerEntry[])[],
  configArgs: string[],
  createdBy: readonly string[] = [],
): Promise<void> {
  const umoci = (...args: string[]) => execFileSync('umoci', args, { stdio: 'pipe' });
  return (async () => {
    umoci('new', '--image', `${layout}:${tag}`);
    for (const [i, entries] of layers.entries()) {
      const file = join(tmp, `${tag}-${i}.tar`);
      writeFileSync(file, await makeTar(entries));
      const history = createdBy[i] ? ['--history.created_by', createdBy[i]] : [];
      umoci('raw', 'add-layer', '--image', `${layout}:${tag}`, ...history, file);
    }
    umoci('config', '--image', `${layout}:${tag}`, '--os', 'linux', '--architecture', 'amd64', ...configArgs);
  })();
}

async function scanImage(
  tag: string,
  settings: SecretSettings = SETTINGS,
): Promise<{ files: SecretHit[]; config: SecretHit[]; notes: string[] }> {
  const source = openOciLayout(layout, tag);
  try {
    const [image] = await resolveImages(source);
    if (!image) throw new Error(`no image ${tag}`);
    const scanner = new SecretScanner(settings);
    let files: SecretHit[] = [];
    await inventoryImage(image, { collectors: [scanner], inspect: (tree) => (files = scanner.finish(tree)) });
    return { files, config: scanner.scanConfig(image.config), notes: scanner.notes() };
  } finally {
    await source.close();
  }
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'portcullis-secrets-image-'));
  layout = join(tmp, 'layout');
  execFileSync('umoci', ['init', '--layout', layout], { stdio: 'pipe' });
  const base: LayerEntry[] = [
    { path: 'etc/', dir: true },
    { path: 'etc/os-release', content: 'ID=debian\nVERSION_ID="12"\n' },
    { path: 'root/', dir: true },
    { path: 'root/.ssh/', dir: true },
    { path: 'srv/app/', dir: true },
    { path: 'srv/app/server.js', content: 'require("http").createServer(() => {}).listen(8080);\n' },
  ];
  await buildImage(
    'leaky',
    [
      [
        ...base,
        { path: 'root/.ssh/id_ed25519', content: sshKey, mode: 0o600 },
        { path: 'srv/app/.npmrc', content: `//registry.npmjs.org/:_authToken=${tokens.npm}\n` },
      ],
      [{ path: 'root/.ssh/.wh.id_ed25519', content: '' }],
    ],
    [
      '--config.env',
      `DB_PASSWORD=${tokens.password}`,
      '--config.env',
      `GITHUB_TOKEN=${tokens.ghp}`,
      '--config.env',
      'NODE_ENV=production',
      '--config.label',
      `ci.webhook=https://hooks.slack.com/services/${tokens.slackWebhookPath}`,
    ],
  );
  await buildImage(
    'clean',
    [
      [
        ...base,
        {
          path: 'root/.ssh/known_hosts',
          content: 'github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n',
        },
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the file's own ${VAR} reference, literally
        { path: 'srv/app/.npmrc', content: '//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n' },
      ],
      [{ path: 'root/.ssh/.wh.known_hosts', content: '' }],
    ],
    [
      '--config.env',
      'NODE_ENV=production',
      '--config.env',
      'DB_PASSWORD_FILE=/run/secrets/db',
      '--config.label',
      'org.opencontainers.image.title=app',
    ],
  );
  // What the reviewer found hidden or noisy: keys and .env files under test-named directories of a home or an
  // application, a token in a Markdown file, a package's own test key (allow-listed), files not read (too large,
  // binary), a build argument repeated in every history entry, `ENV NAME value`, a password in a URL.
  const elf = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]), Buffer.alloc(4096, 0x41)]);
  await buildImage(
    'reviewed',
    [
      [
        ...base,
        { path: 'home/', dir: true },
        { path: 'home/test/', dir: true },
        { path: 'home/test/.ssh/', dir: true },
        { path: 'home/test/.ssh/id_rsa', content: keys['ssh-keygen rsa'] as string, mode: 0o600 },
        { path: 'srv/app/tests/', dir: true },
        { path: 'srv/app/tests/.env', content: `DB_PASSWORD=${tokens.password}\n` },
        { path: 'srv/app/SECRETS.md', content: `# Deploy\n\nUse ${tokens.ghp} for the release job.\n` },
        { path: 'usr/lib/python3.11/test/keycert.pem', content: keys['openssl RSA (PKCS#8)'] as string },
        { path: 'srv/app/data.json', content: `{"token": "${tokens.npm}", "pad": "${'x'.repeat(70_000)}"}` },
        { path: 'usr/bin/tool', content: elf },
      ],
      [{ path: 'srv/app/server.js', content: 'require("http").createServer(() => {}).listen(8081);\n' }],
      [{ path: 'srv/app/build.txt', content: 'built\n' }],
    ],
    [
      '--config.env',
      `DATABASE_URL=postgres://app:${tokens.password}@db.internal:5432/app`,
      '--config.env',
      'CACHE_KEY=users-v2-by-email',
      '--history.created_by',
      'ENV ADMIN_PASSWORD changeme',
    ],
    [
      'COPY . /srv/app # buildkit',
      `|1 NPM_TOKEN=${tokens.npm} /bin/sh -c npm ci # buildkit`,
      `|1 NPM_TOKEN=${tokens.npm} /bin/sh -c npm run build # buildkit`,
    ],
  );
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('secrets in a real image', () => {
  it('reports the key deleted in layer 2 as deleted, with its layer, and the token still present', async () => {
    const { files } = await scanImage('leaky');
    expect(files.map((h) => [h.ruleId, h.path, h.layer, h.line, h.deleted ?? false])).toEqual([
      ['private-key', 'root/.ssh/id_ed25519', 0, 1, true],
      ['npm-token', 'srv/app/.npmrc', 0, 1, false],
    ]);
    expect(files[0]?.redacted).toBe('-----BEGIN OPENSSH PRIVATE KEY-----');
    expect(leaks(files, tokens.npm)).toBe(false);
  });

  it('reports secrets set with umoci config --config.env and --config.label', async () => {
    const { config } = await scanImage('leaky');
    expect(config.map((h) => [h.ruleId, h.where, h.path])).toEqual([
      ['env-secret', 'env', 'DB_PASSWORD'],
      ['github-token', 'env', 'GITHUB_TOKEN'],
      ['slack-webhook', 'label', 'ci.webhook'],
    ]);
    for (const s of [tokens.password, tokens.ghp, tokens.slackWebhookPath]) expect(leaks(config, s)).toBe(false);
  });

  it('the twin image without secrets reports none', async () => {
    expect(await scanImage('clean')).toEqual({ files: [], config: [], notes: [] });
  });

  it('keys and .env files under test-named directories and tokens in Markdown are found; package test keys are not', async () => {
    const { files } = await scanImage('reviewed', { ...SETTINGS, maxFileBytes: 64 * 1024 });
    expect(files.map((h) => [h.ruleId, h.path, h.confidence ?? 'high'])).toEqual([
      ['private-key', 'home/test/.ssh/id_rsa', 'high'],
      ['github-token', 'srv/app/SECRETS.md', 'high'],
      ['dotenv-secret', 'srv/app/tests/.env', 'medium'],
    ]);
    for (const s of [tokens.password, tokens.ghp]) expect(leaks(files, s)).toBe(false);
    // With the built-in list off, the package's test key is read too.
    const all = await scanImage('reviewed', { ...SETTINGS, builtinAllow: false });
    expect(all.files.map((h) => h.path)).toContain('usr/lib/python3.11/test/keycert.pem');
  });

  it('files not read are said in the notes: the one over the limit (its token unseen); binary ones are counted', async () => {
    const small = await scanImage('reviewed', { ...SETTINGS, maxFileBytes: 64 * 1024 });
    expect(small.notes).toEqual([
      'secrets: 1 file over the 65536-byte limit was not read (e.g. /srv/app/data.json); raise secrets.maxFileSize',
    ]);
    expect(small.files.map((h) => h.path)).not.toContain('srv/app/data.json');
    // Raised as the note says, the file is read and its token found.
    const raised = await scanImage('reviewed', { ...SETTINGS, maxFileBytes: 1024 * 1024 });
    expect(raised.files.filter((h) => h.path === 'srv/app/data.json').map((h) => h.ruleId)).toEqual(['npm-token']);
    expect(raised.notes).toEqual([]);
  });

  it('config: a repeated build argument once, ENV NAME value, a URL password; CACHE_KEY is no secret', async () => {
    const { config } = await scanImage('reviewed');
    expect(config.map((h) => [h.ruleId, h.where, h.path, h.confidence ?? 'high'])).toEqual([
      ['url-credentials', 'env', 'DATABASE_URL', 'medium'],
      ['npm-token', 'history', '1', 'high'],
      ['env-secret', 'history', '3', 'medium'],
    ]);
    expect(config[0]?.redacted).toBe(`postgres://app:${mask(tokens.password)}@db.internal`);
    for (const s of [tokens.password, tokens.npm]) expect(leaks(config, s)).toBe(false);
  });
});
