import { accountText, parsePasswd, sharedIds, shown, unreadableHit } from '../files.js';
import type { ImageInput, MisconfigRule, RuleHit } from '../model.js';

function checkImage(input: ImageInput): RuleHit[] {
  const passwd = accountText(input.tree, 'etc/passwd');
  if (passwd.kind !== 'text') return unreadableHit(input, 'etc/passwd', 'for duplicate uids');
  return sharedIds(parsePasswd(passwd.text), (u) => u.uid).map(([uid, users]) => ({
    message: `uid ${uid} is shared by ${users.map((u) => `'${shown(u.name)}' (line ${u.line})`).join(', ')} in /etc/passwd${uid === 0 ? ': more than one name for root' : ''}`,
    path: 'etc/passwd',
    layer: passwd.layer,
    ...(uid === 0 ? { severity: 'high' as const } : {}),
  }));
}

export const duplicateUid: MisconfigRule = {
  id: 'duplicate-uid',
  kind: 'misconfiguration',
  title: 'Users share a uid',
  severity: 'low',
  dockle: 'DKL-LI-0002',
  rationale:
    "Users with the same uid are the same user to the kernel: files, processes and audit records of one are the other's, and a second name for uid 0 is a hidden root account.",
  remediation: 'Give every user of /etc/passwd its own uid, or remove the extra entries.',
  checkImage,
};
