import { execFileSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SecretHit } from '../../src/checks/model.js';
import type { SecretSettings } from '../../src/checks/settings.js';
import { SecretScanner } from '../../src/secrets/scanner.js';
import { type LayerEntry, walkTestLayers } from './layers.js';

export const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
export const SETTINGS: SecretSettings = { maxFileBytes: 10 * 1024 * 1024, skipPaths: [], builtinAllow: true };

/** `n` random characters of `alphabet` (crypto-random: real-looking, never a fixed value). */
export function random(alphabet: string, n: number): string {
  let out = '';
  for (let i = 0; i < n; i++) out += alphabet[randomInt(alphabet.length)];
  return out;
}

/** Tokens in the providers' documented formats, with fresh random bodies. */
export function makeTokens() {
  const b32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  return {
    awsKeyId: `AKIA${random(b32, 16)}`,
    awsStsKeyId: `ASIA${random(b32, 16)}`,
    awsSecret: random(`${ALNUM}+/`, 40),
    azureKey: randomBytes(64).toString('base64'),
    ghp: `ghp_${random(ALNUM, 36)}`,
    ghs: `ghs_${random(ALNUM, 36)}`,
    githubPat: `github_pat_${random(ALNUM, 22)}_${random(ALNUM, 59)}`,
    glpat: `glpat-${random(`${ALNUM}_-`, 20)}`,
    npm: `npm_${random(ALNUM, 36)}`,
    pypi: `pypi-AgEIcHlwaS5vcmc${randomBytes(90).toString('base64url')}`,
    slackBot: `xoxb-${random('0123456789', 12)}-${random('0123456789', 13)}-${random(ALNUM, 24)}`,
    slackUser: `xoxp-${random('0123456789', 12)}-${random('0123456789', 12)}-${random('0123456789', 13)}-${random('0123456789abcdef', 32)}`,
    slackWebhookPath: `T${random('ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789', 10)}/B${random('ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789', 10)}/${random(ALNUM, 24)}`,
    stripe: `sk_live_${random(ALNUM, 99)}`,
    stripeRestricted: `rk_live_${random(ALNUM, 24)}`,
    google: `AIza${random(`${ALNUM}_-`, 35)}`,
    password: `${random(ALNUM, 12)}!${random(ALNUM, 6)}`,
  };
}

/** Real private keys made by openssl, ssh-keygen and puttygen in a temporary directory. */
export function makeKeys(): Record<string, string> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-keys-'));
  const run = (cmd: string, ...args: string[]): void => {
    execFileSync(cmd, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  };
  try {
    run('openssl', 'genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'rsa.pem');
    run('openssl', 'genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'ec.pem');
    run('openssl', 'genpkey', '-algorithm', 'ed25519', '-out', 'ed25519.pem');
    run('openssl', 'genpkey', '-algorithm', 'RSA', '-aes-256-cbc', '-pass', 'pass:hunter22', '-out', 'enc-pkcs8.pem');
    run('openssl', 'pkey', '-in', 'rsa.pem', '-traditional', '-out', 'rsa-traditional.pem');
    run(
      'openssl',
      'rsa',
      '-in',
      'rsa.pem',
      '-traditional',
      '-aes128',
      '-passout',
      'pass:hunter22',
      '-out',
      'rsa-enc.pem',
    );
    run('openssl', 'pkey', '-in', 'ec.pem', '-traditional', '-out', 'ec-traditional.pem');
    run('ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'build@ci', '-f', 'id_ed25519');
    run('ssh-keygen', '-q', '-t', 'rsa', '-b', '2048', '-N', '', '-f', 'id_rsa');
    run('ssh-keygen', '-q', '-t', 'ed25519', '-N', 'hunter22', '-f', 'id_enc');
    const putty = (...args: string[]) =>
      run('puttygen', '--random-device', '/dev/urandom', '-q', '-O', 'private', '--new-passphrase', ...args);
    writeFileSync(join(dir, 'pass'), 'hunter22\n');
    putty('/dev/null', '-t', 'ed25519', '-o', 'v3.ppk');
    putty('/dev/null', '-t', 'rsa', '-b', '2048', '--ppk-param', 'version=2', '-o', 'v2.ppk');
    putty('pass', '-t', 'ecdsa', '-b', '256', '-o', 'v3-enc.ppk');
    // An OpenPGP secret key, armored with a Comment header, from a throwaway keyring (its agent stopped after).
    const gpg = (...args: string[]) =>
      execFileSync('gpg', ['--batch', '--pinentry-mode', 'loopback', '--passphrase', '', ...args], {
        env: { ...process.env, GNUPGHOME: join(dir, 'gnupg') },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    mkdirSync(join(dir, 'gnupg'), { mode: 0o700 });
    try {
      gpg('--quick-gen-key', 'Build Bot <build@example.com>', 'ed25519', 'sign', 'never');
      writeFileSync(join(dir, 'gpg.asc'), gpg('--armor', '--comment', 'release signing key', '--export-secret-keys'));
    } finally {
      execFileSync('gpgconf', ['--kill', 'gpg-agent'], { env: { ...process.env, GNUPGHOME: join(dir, 'gnupg') } });
    }
    const read = (f: string) => readFileSync(join(dir, f), 'utf8');
    return {
      'openssl RSA (PKCS#8)': read('rsa.pem'),
      'openssl EC (PKCS#8)': read('ec.pem'),
      'openssl ed25519 (PKCS#8)': read('ed25519.pem'),
      'openssl encrypted PKCS#8': read('enc-pkcs8.pem'),
      'openssl RSA (traditional)': read('rsa-traditional.pem'),
      'openssl RSA (traditional, encrypted)': read('rsa-enc.pem'),
      'openssl EC (traditional)': read('ec-traditional.pem'),
      'ssh-keygen ed25519': read('id_ed25519'),
      'ssh-keygen rsa': read('id_rsa'),
      'ssh-keygen ed25519 with passphrase': read('id_enc'),
      'puttygen ed25519 (PPK v3)': read('v3.ppk'),
      'puttygen rsa (PPK v2)': read('v2.ppk'),
      'puttygen ecdsa with passphrase (PPK v3)': read('v3-enc.ppk'),
      'gpg ed25519 (OpenPGP armor)': read('gpg.asc'),
      // Public halves, for the negatives.
      'ssh public key': read('id_ed25519.pub'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Walk one layer of files through a SecretScanner, as an image walk does, and return its finished hits. */
export async function scanFiles(
  files: readonly LayerEntry[],
  settings: SecretSettings = SETTINGS,
): Promise<SecretHit[]> {
  const scanner = new SecretScanner(settings);
  const { tree } = await walkTestLayers([files], [scanner]);
  return scanner.finish(tree);
}

/** Whether any hit text shows any run of 9+ characters of the secret (more than the 4+4 a mask keeps). */
export function leaks(hits: readonly SecretHit[], secret: string): boolean {
  const shown = hits.map((h) => `${h.redacted}\n${h.path}`).join('\n');
  for (let i = 0; i + 9 <= secret.length; i++) if (shown.includes(secret.slice(i, i + 9))) return true;
  return false;
}
