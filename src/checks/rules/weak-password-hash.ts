import type { Severity } from '../../findings/finding.js';
import { type AccountFile, accountText, parsePasswd, parseShadow, shown, unreadableHit } from '../files.js';
import type { ImageInput, MisconfigRule, RuleHit } from '../model.js';

/** The crypt(3) scheme of a hash when it is one of the broken ones, else undefined. */
export function weakScheme(hash: string): string | undefined {
  if (hash.startsWith('$1$')) return 'MD5-crypt ($1$)';
  if (hash.startsWith('$3$')) return 'NT hash ($3$)';
  if (/^_[./0-9A-Za-z]{19}$/.test(hash)) return 'BSDi extended DES (_)';
  if (/^[./0-9A-Za-z]{13}$/.test(hash)) return 'traditional DES';
  return undefined;
}

function scan(
  file: AccountFile,
  entries: { name: string; password: string; line: number }[],
  layer: number,
): RuleHit[] {
  const hits: RuleHit[] = [];
  for (const e of entries) {
    // A leading `!` locks the account but keeps the hash, which can still be cracked and reused elsewhere.
    const locked = e.password.startsWith('!');
    const scheme = weakScheme(e.password.replace(/^!+/, ''));
    if (!scheme) continue;
    const severity: Severity | undefined = locked ? 'low' : undefined;
    hits.push({
      message: `${file === 'etc/gshadow' || file === 'etc/group' ? 'Group' : 'User'} '${shown(e.name)}' has a ${scheme} password hash in /${file} (line ${e.line})${locked ? ', on a locked account' : ''}`,
      path: file,
      layer,
      ...(severity ? { severity } : {}),
    });
  }
  return hits;
}

function checkImage(input: ImageInput): RuleHit[] {
  const hits: RuleHit[] = [];
  for (const file of ['etc/shadow', 'etc/gshadow', 'etc/passwd'] as const) {
    const t = accountText(input.tree, file);
    if (t.kind === 'text')
      hits.push(...scan(file, file === 'etc/passwd' ? parsePasswd(t.text) : parseShadow(t.text), t.layer));
    else hits.push(...unreadableHit(input, file, 'password hashes'));
  }
  return hits;
}

export const weakPasswordHash: MisconfigRule = {
  id: 'weak-password-hash',
  kind: 'misconfiguration',
  title: 'Password hashed with a broken scheme',
  severity: 'medium',
  rationale:
    'DES and MD5-crypt hashes are cracked in minutes to hours on commodity hardware, and every copy of the image carries them: the password is as good as published.',
  remediation:
    'Do not ship passwords in images; lock the account (`passwd -l USER`). If a password is unavoidable, set it with yescrypt or SHA-512 (`chpasswd -c SHA512`).',
  checkImage,
};
