import { accountText, parsePasswd, parseShadow, shown, unreadableHit } from '../files.js';
import type { ImageInput, MisconfigRule, RuleHit } from '../model.js';

function checkImage(input: ImageInput): RuleHit[] {
  const hits: RuleHit[] = [];
  const shadow = accountText(input.tree, 'etc/shadow');
  if (shadow.kind === 'text') {
    for (const e of parseShadow(shadow.text)) {
      if (e.password !== '') continue;
      hits.push({
        message: `User '${shown(e.name)}' has an empty password in /etc/shadow (line ${e.line}): it can log in without one`,
        path: 'etc/shadow',
        layer: shadow.layer,
      });
    }
  }
  hits.push(...unreadableHit(input, 'etc/shadow', 'for empty passwords'));
  // The password field of /etc/passwd counts when it is not `x` (shadowed): an empty one is no password at all.
  const passwd = accountText(input.tree, 'etc/passwd');
  if (passwd.kind === 'text') {
    for (const u of parsePasswd(passwd.text)) {
      if (u.password !== '') continue;
      hits.push({
        message: `User '${shown(u.name)}' has an empty password field in /etc/passwd (line ${u.line}): it can log in without one`,
        path: 'etc/passwd',
        layer: passwd.layer,
      });
    }
  }
  hits.push(...unreadableHit(input, 'etc/passwd', 'for empty passwords'));
  return hits;
}

export const emptyPassword: MisconfigRule = {
  id: 'empty-password',
  kind: 'misconfiguration',
  title: 'Account with an empty password',
  severity: 'high',
  dockle: 'DKL-LI-0001',
  rationale:
    'An account whose password field is empty accepts an empty password wherever PAM allows it (`nullok`): anyone in the container can become that user, root included (CVE-2019-5021 was exactly this in Alpine images).',
  remediation: 'Lock the account instead (`passwd -l USER`, or `*` / `!` in the password field of /etc/shadow).',
  checkImage,
};
