import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SecretHit } from '../../src/checks/model.js';
import { inventoryImage } from '../../src/inventory/image.js';
import { openOciLayout } from '../../src/oci/layout.js';
import { resolveImages } from '../../src/oci/source.js';
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

function buildImage(tag: string, layers: readonly (readonly LayerEntry[])[], configArgs: string[]): Promise<void> {
  const umoci = (...args: string[]) => execFileSync('umoci', args, { stdio: 'pipe' });
  return (async () => {
    umoci('new', '--image', `${layout}:${tag}`);
    for (const [i, entries] of layers.entries()) {
      const file = join(tmp, `${tag}-${i}.tar`);
      writeFileSync(file, await makeTar(entries));
      umoci('raw', 'add-layer', '--image', `${layout}:${tag}`, file);
    }
    umoci('config', '--image', `${layout}:${tag}`, '--os', 'linux', '--architecture', 'amd64', ...configArgs);
  })();
}

async function scanImage(tag: string): Promise<{ files: SecretHit[]; config: SecretHit[] }> {
  const source = openOciLayout(layout, tag);
  try {
    const [image] = await resolveImages(source);
    if (!image) throw new Error(`no image ${tag}`);
    const scanner = new SecretScanner(SETTINGS);
    let files: SecretHit[] = [];
    await inventoryImage(image, { collectors: [scanner], inspect: (tree) => (files = scanner.finish(tree)) });
    return { files, config: scanner.scanConfig(image.config) };
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
    expect(await scanImage('clean')).toEqual({ files: [], config: [] });
  });
});
