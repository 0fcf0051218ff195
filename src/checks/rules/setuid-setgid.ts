import { printable } from '../../errors.js';
import { inodeInfo } from '../files.js';
import type { ImageInput, MisconfigRule, RuleHit } from '../model.js';

const SETUID = 0o4000;
const SETGID = 0o2000;

function checkImage(input: ImageInput): RuleHit[] {
  const hits: (RuleHit & { path: string })[] = [];
  for (const node of input.tree.nodes()) {
    const { info } = node;
    // A hardlink entry is the same regular file under another name; the bits are in its own header.
    if (info.type !== 'file' && info.type !== 'hardlink') continue;
    const inode = inodeInfo(input.tree, info);
    const mode = inode.mode;
    if ((mode & (SETUID | SETGID)) === 0) continue;
    const bits = [
      mode & SETUID ? `setuid (owner uid ${inode.uid})` : '',
      mode & SETGID ? `setgid (group gid ${inode.gid})` : '',
    ]
      .filter(Boolean)
      .join(' and ');
    hits.push({
      message: `/${printable(info.path)} is ${bits}, mode ${(mode & 0o7777).toString(8).padStart(4, '0')}`,
      path: info.path,
      layer: info.layer,
    });
  }
  return hits.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

export const setuidSetgid: MisconfigRule = {
  id: 'setuid-setgid',
  kind: 'misconfiguration',
  title: 'setuid or setgid file',
  severity: 'low',
  cis: '4.8',
  dockle: 'CIS-DI-0008',
  rationale:
    "A setuid or setgid program runs with its owner's or group's privileges whoever starts it: a bug in it is a privilege escalation inside the container. Base systems ship some (su, passwd, mount), so each is reported at low severity, one finding per file.",
  remediation:
    'Remove the bits from programs the application does not need, in the last build step: `RUN find / -xdev -perm /6000 -type f -exec chmod a-s {} +`.',
  checkImage,
};
