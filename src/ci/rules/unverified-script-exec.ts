import { type CiHit, type CiRule, posIn, scriptLines } from '../rule.js';

const FETCH = String.raw`(?:curl|wget|iwr|irm|Invoke-WebRequest|Invoke-RestMethod)\b`;
const SHELL = String.raw`(?:sudo\s+(-\S+\s+)*)?(?:env\s+(\S+=\S*\s+)*)?(?:(ba|z|k|da|fi)?sh|python[23]?|perl|ruby|node|pwsh|powershell|iex)`;
const PATTERNS: readonly RegExp[] = [
  // curl … | sh
  new RegExp(String.raw`(^|[\s;&(|])${FETCH}[^|;&\n]*\|\s*${SHELL}(\s|$|\))`, 'i'),
  // sh <(curl …), source <(curl …)
  new RegExp(String.raw`(^|[\s;&(|])((ba|z)?sh(\s+-\S+)*|source|\.)\s+<\(\s*${FETCH}`, 'i'),
  // sh -c "$(curl …)", eval "$(curl …)"
  new RegExp(String.raw`(^|[\s;&(|])((ba|z)?sh\s+-c|eval)\s+["']?\$\(\s*${FETCH}`, 'i'),
  // iex (iwr …), Invoke-Expression (New-Object Net.WebClient).DownloadString(…)
  /(^|[\s;&(|])(iex|Invoke-Expression)\s*\(?\s*(\(?\s*(iwr|irm|Invoke-WebRequest|Invoke-RestMethod)\b|\(?\s*New-Object\s+(System\.)?Net\.WebClient)/i,
];

/**
 * A script fetched and run in one go: nothing checks what was downloaded. Downloads written to a file and checked
 * against a known digest (sha256sum -c) before running are the safe pattern and are not matched.
 */
export const unverifiedScriptExec: CiRule = {
  id: 'unverified-script-exec',
  title: 'Downloaded script executed without verification (curl | sh)',
  severity: 'medium',
  confidence: 'high',
  rationale:
    "Piping a download into a shell runs whatever the server (or anyone who compromised it, its CDN or DNS) sends at that moment, with the job's token and secrets; nothing pins or checks it.",
  remediation:
    'Download to a file, verify it against a pinned SHA-256 (echo "<sha256>  file" | sha256sum -c -) or a signature, then run it; better, use a pinned package or action.',
  check(w) {
    const hits: CiHit[] = [];
    for (const job of w.jobs) {
      for (const s of job.steps) {
        if (!s.run) continue;
        for (const line of scriptLines(s.run.value)) {
          if (/^\s*#/.test(line.text)) continue;
          if (PATTERNS.some((p) => p.test(line.text))) {
            hits.push({
              pos: posIn(s.run, line.offset),
              message: `job ${job.id}, step ${s.name ?? s.id ?? s.index + 1}: runs a downloaded script unverified: ${line.text.trim().slice(0, 100)}`,
            });
          }
        }
      }
    }
    return hits;
  },
};
