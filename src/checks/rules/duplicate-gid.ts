import { accountText, parseGroup, sharedIds, shown, unreadableHit } from '../files.js';
import type { ImageInput, MisconfigRule, RuleHit } from '../model.js';

function checkImage(input: ImageInput): RuleHit[] {
  const group = accountText(input.tree, 'etc/group');
  if (group.kind !== 'text') return unreadableHit(input, 'etc/group', 'for duplicate gids');
  return sharedIds(parseGroup(group.text), (g) => g.gid).map(([gid, groups]) => ({
    message: `gid ${gid} is shared by ${groups.map((g) => `'${shown(g.name)}' (line ${g.line})`).join(', ')} in /etc/group`,
    path: 'etc/group',
    layer: group.layer,
  }));
}

export const duplicateGid: MisconfigRule = {
  id: 'duplicate-gid',
  kind: 'misconfiguration',
  title: 'Groups share a gid',
  severity: 'low',
  dockle: 'DKL-LI-0002',
  rationale:
    'Groups with the same gid are one group to the kernel: a user added to one gets the file access of the other.',
  remediation: 'Give every group of /etc/group its own gid, or remove the extra entries.',
  checkImage,
};
