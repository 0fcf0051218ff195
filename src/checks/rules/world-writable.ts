import { printable } from '../../errors.js';
import { inodeInfo } from '../files.js';
import type { ImageInput, MisconfigRule, RuleHit } from '../model.js';

const OTHERS_WRITE = 0o002;
const STICKY = 0o1000;

/** Top-level directories whose files only root should change. */
function isSystemPath(path: string): boolean {
  const top = path.split('/', 1)[0] as string;
  return ['etc', 'usr', 'bin', 'sbin', 'var', 'boot'].includes(top) || /^lib(?:32|64|x32)?$/.test(top);
}

/** Whether a parent of `path` is a sticky world-writable directory: a scratch area whose contents are anyone's. */
function inScratchDir(input: ImageInput, path: string): boolean {
  const parts = path.split('/');
  for (let i = 1; i < parts.length; i++) {
    const mode = input.tree.lookup(parts.slice(0, i).join('/'))?.info.mode ?? 0;
    if ((mode & (STICKY | OTHERS_WRITE)) === (STICKY | OTHERS_WRITE)) return true;
  }
  return false;
}

function checkImage(input: ImageInput): RuleHit[] {
  const hits: (RuleHit & { path: string })[] = [];
  for (const node of input.tree.nodes()) {
    const { info } = node;
    // Symlink modes mean nothing; a sticky shared directory (/var/tmp, 1777) is world-writable on purpose.
    const inode = inodeInfo(input.tree, info);
    const mode = inode.mode;
    if (info.type === 'symlink' || (mode & OTHERS_WRITE) === 0 || !isSystemPath(info.path)) continue;
    if ((info.type === 'dir' && mode & STICKY) || inScratchDir(input, info.path)) continue;
    const what = info.type === 'dir' ? 'directory' : 'file';
    hits.push({
      message: `/${printable(info.path)} is a world-writable ${what} (mode ${(mode & 0o7777).toString(8).padStart(4, '0')})`,
      path: info.path,
      layer: info.layer,
    });
  }
  return hits.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

export const worldWritable: MisconfigRule = {
  id: 'world-writable',
  kind: 'misconfiguration',
  title: 'World-writable file in a system path',
  severity: 'medium',
  rationale:
    'Any user in the container can change a world-writable file or directory under /etc, /usr, /bin, /sbin, /lib* or /var: a non-root process can then plant code or configuration that root later runs.',
  remediation:
    'Remove write permission for others (`chmod o-w PATH`); a directory that must be shared gets the sticky bit (`chmod 1777`), as /var/tmp has.',
  checkImage,
};
