import { chmod, lstat, writeFile } from 'node:fs/promises';
import { Command } from 'commander';
import { fail } from '../errors.js';
import { encryptPrivateKey, generateKeyPair, publicKeyPem } from '../sign/keys.js';
import { readPassword } from '../sign/password.js';

interface KeygenFlags {
  outputKeyPrefix: string;
  force?: boolean;
}

/** `portcullis keygen`: a cosign-compatible key pair (PREFIX.key encrypted, PREFIX.pub). */
export function keygenCommand(): Command {
  return new Command('keygen')
    .description('write a cosign-compatible ECDSA P-256 key pair: PREFIX.key (encrypted) and PREFIX.pub')
    .option('--output-key-prefix <prefix>', 'file name prefix of the two files', 'cosign')
    .option('--force', 'overwrite existing files')
    .exitOverride()
    .action(async (flags: KeygenFlags) => {
      if (flags.outputKeyPrefix === '') fail('USAGE', '--output-key-prefix must not be empty');
      const keyFile = `${flags.outputKeyPrefix}.key`;
      const pubFile = `${flags.outputKeyPrefix}.pub`;
      // Refuse before asking for a password; 'wx' below closes the window between the check and the write.
      if (!flags.force) {
        for (const f of [keyFile, pubFile]) {
          if (
            await lstat(f).then(
              () => true,
              () => false,
            )
          ) {
            fail('FILE_EXISTS', `${f} already exists; pass --force to overwrite it`);
          }
        }
      }
      const password = await readPassword(true);
      if (password.bytes.length === 0) {
        process.stderr.write('portcullis: warning: the private key is encrypted with an empty password\n');
      }
      const pair = generateKeyPair();
      const flag = flags.force ? 'w' : 'wx';
      await write(keyFile, await encryptPrivateKey(pair.privateKey, password.bytes), flag, 0o600);
      await write(pubFile, publicKeyPem(pair.publicKey), flag, 0o644);
      process.stderr.write(`Private key written to ${keyFile}\nPublic key written to ${pubFile}\n`);
    });
}

async function write(file: string, text: string, flag: 'w' | 'wx', mode: number): Promise<void> {
  try {
    await writeFile(file, text, { flag, mode });
    await chmod(file, mode); // an overwritten file keeps its old mode otherwise
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') fail('FILE_EXISTS', `${file} already exists; pass --force to overwrite it`);
    fail('OUTPUT_FAILED', `${file}: cannot write (${code ?? (err as Error).message})`);
  }
}
