import { printable } from '../../errors.js';
import { scrubText } from '../../secrets/scrub.js';
import type { BuildInput, Instruction, MisconfigRule, RuleHit } from '../model.js';
import { stepPlace } from '../shell.js';

/** Archive names ADD extracts (tar, optionally gzip, bzip2, xz or zstd compressed). */
const LOCAL_ARCHIVE = /\.(?:tar|tgz|taz|tbz|tbz2|tb2|txz|tzst|tar\.(?:gz|z|bz2|xz|lz|lzma|zst))$/i;
const REMOTE = /^(?:[a-z][a-z0-9+.-]*:\/\/|git@[^:\s]+:)/i;

/** ADD's sources: the words before the destination (JSON or shell form), or `<<NAME` heredocs. */
function sources(step: Instruction): string[] {
  const firstLine = step.args.split('\n')[0] ?? '';
  const trimmed = firstLine.trim();
  if (trimmed.startsWith('[')) {
    try {
      const v: unknown = JSON.parse(trimmed);
      if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return (v as string[]).slice(0, -1);
    } catch {
      // not JSON: the shell form, read below
    }
  }
  const words = trimmed.split(/\s+/).filter((w) => w !== '');
  return words.slice(0, -1).map((w) => w.replace(/^(["'])(.*)\1$/, '$2'));
}

function checkBuild(input: BuildInput): RuleHit[] {
  const hits: RuleHit[] = [];
  for (const step of input.steps) {
    if (step.keyword !== 'ADD') continue;
    const srcs = sources(step);
    const checksum = (step.flags ?? []).some((f) => f.startsWith('--checksum='));
    const remote = srcs.filter((s) => REMOTE.test(s));
    if (remote.length > 0 && !checksum) {
      hits.push({
        message: `${stepPlace(step)} downloads ${printable(scrubText(remote[0] as string), 120)} without --checksum: nothing verifies what the build receives (fetch with a verified checksum, or add --checksum=sha256:...)`,
        step,
        severity: 'medium',
      });
      continue;
    }
    // History of the classic builder names content by hash: a `file:` could be an archive, a `dir:` cannot.
    const local = srcs.filter(
      (s) => !REMOTE.test(s) && !LOCAL_ARCHIVE.test(s) && !/^(?:file|multi):[0-9a-f]{16,}$/.test(s),
    );
    if (local.length > 0) {
      hits.push({
        message: `${stepPlace(step)} adds ${printable(local[0] as string, 120)}, which is no local tar archive: COPY does the same without ADD's implicit extraction and downloads`,
        step,
      });
    }
  }
  return hits;
}

export const addInsteadOfCopy: MisconfigRule = {
  id: 'add-instead-of-copy',
  kind: 'misconfiguration',
  title: 'ADD where COPY fits',
  severity: 'low',
  cis: '4.9',
  dockle: 'CIS-DI-0009',
  rationale:
    'ADD also fetches URLs and unpacks archives, so what lands in the image depends on more than the named file; a download without a checksum is not verified at all.',
  remediation:
    'Use COPY for local files and directories; keep ADD for local tar archives it should extract, and for downloads give `--checksum=sha256:...` (or fetch with curl and verify the checksum in the RUN).',
  checkBuild,
};
