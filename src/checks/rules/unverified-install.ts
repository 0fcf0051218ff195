import type { Severity } from '../../findings/finding.js';
import type { BuildInput, Instruction, MisconfigRule, RuleHit } from '../model.js';
import { basename, effectiveWords, isShell, type Pipeline, runPipelines, stepPlace } from '../shell.js';

/** Interpreters besides the shells that run a script handed to them (`source` and `.` run it in the shell itself). */
const OTHER_INTERPRETERS = /^(?:python[0-9.]*|perl|ruby|node|php|source|\.)$/;
const isInterpreter = (name: string): boolean => isShell(name) || OTHER_INTERPRETERS.test(name);
const FETCHERS: ReadonlySet<string> = new Set(['curl', 'wget']);
/** curl short options that take a value: a `k` after one of them in a group is that value, not --insecure. */
const CURL_VALUE_LETTERS = new Set('oHdXuAeFTbcwxmrYyzCEKPQtUD'.split(''));
const CURL_VALUE_OPTIONS = new Set([...CURL_VALUE_LETTERS].map((l) => `-${l}`));

interface Problem {
  readonly what: string;
  readonly severity: Severity;
}

const off = (what: string): Problem => ({ what, severity: 'high' });

/** What one command does to switch verification off. */
function commandProblems(raw: readonly string[], words: readonly string[]): Problem[] {
  const out: Problem[] = [];
  for (const w of raw) {
    if (/^NODE_TLS_REJECT_UNAUTHORIZED=0$/.test(w)) out.push(off('NODE_TLS_REJECT_UNAUTHORIZED=0 (TLS not verified)'));
    if (/^GIT_SSL_NO_VERIFY=(?:1|true)$/i.test(w)) out.push(off('GIT_SSL_NO_VERIFY (TLS not verified)'));
  }
  const name = basename(words[0] ?? '');
  const args = words.slice(1);
  const has = (...flags: string[]) => args.some((a) => flags.includes(a));
  switch (name) {
    case 'apt-get':
    case 'apt':
    case 'aptitude':
      if (has('--allow-unauthenticated')) out.push(off(`${name} --allow-unauthenticated`));
      if (has('--force-yes')) out.push(off(`${name} --force-yes`));
      if (has('--allow-insecure-repositories')) out.push(off(`${name} --allow-insecure-repositories`));
      if (args.some((a) => /AllowUnauthenticated\s*=\s*(?:true|1|yes)/i.test(a)))
        out.push(off(`${name} -o APT::Get::AllowUnauthenticated=true`));
      break;
    case 'apk':
      if (has('--allow-untrusted')) out.push(off('apk --allow-untrusted'));
      break;
    case 'rpm':
      for (const f of ['--nosignature', '--nodigest', '--nofiledigest']) if (has(f)) out.push(off(`rpm ${f}`));
      break;
    case 'yum':
    case 'dnf':
    case 'microdnf':
    case 'tdnf':
    case 'zypper':
      for (const f of ['--nogpgcheck', '--no-gpg-checks']) if (has(f)) out.push(off(`${name} ${f}`));
      if (args.some((a) => /^--setopt=.*gpgcheck=(?:0|false|no)$/i.test(a)))
        out.push(off(`${name} --setopt=gpgcheck=0`));
      break;
    case 'wget':
      if (has('--no-check-certificate')) out.push(off('wget --no-check-certificate'));
      break;
    case 'curl':
      if (curlInsecure(args)) out.push(off('curl --insecure'));
      break;
    case 'git':
      if (args.some((a) => /^http\.sslverify(?:=(?:false|0|no))?$/i.test(a))) {
        const i = args.findIndex((a) => /^http\.sslverify/i.test(a));
        const value = (args[i] as string).includes('=') ? (args[i] as string).split('=')[1] : args[i + 1];
        if (/^(?:false|0|no)$/i.test(value ?? '')) out.push(off('git http.sslVerify false'));
      }
      break;
    case 'npm':
    case 'yarn':
    case 'pnpm': {
      const i = args.indexOf('strict-ssl');
      if ((i >= 0 && /^false$/i.test(args[i + 1] ?? '')) || args.some((a) => /^(?:--)?strict-ssl=false$/i.test(a))) {
        out.push(off(`${name} strict-ssl false`));
      }
      break;
    }
  }
  if (isPip(words)) {
    if (args.some((a) => a === '--trusted-host' || a.startsWith('--trusted-host=')))
      out.push(off('pip --trusted-host (TLS not verified for that host)'));
    for (let i = 0; i < args.length; i++) {
      const a = args[i] as string;
      const m = /^(?:-i|--index-url|--extra-index-url)(?:=|$)(.*)$/.exec(a);
      const url = m ? (m[1] !== '' ? m[1] : args[i + 1]) : /^-i(http:.*)$/.exec(a)?.[1];
      if (url && /^http:\/\//i.test(url)) out.push(off('pip index over plain http'));
    }
  }
  // sh -c "$(curl ...)", bash <(curl ...): a downloaded script run directly.
  if (isInterpreter(name) && args.some((a) => /(?:\$\(|<\(|`)\s*(?:curl|wget)\b/.test(a))) {
    out.push({ what: `${name} running a script fetched by curl/wget`, severity: 'medium' });
  }
  return out;
}

function isPip(words: readonly string[]): boolean {
  const name = basename(words[0] ?? '');
  if (/^pip[0-9.]*$/.test(name)) return true;
  if (/^python[0-9.]*$/.test(name)) return words[1] === '-m' && /^pip[0-9.]*$/.test(words[2] ?? '');
  return name === 'uv' && words[1] === 'pip';
}

function curlInsecure(args: readonly string[]): boolean {
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--insecure') return true;
    if (a.startsWith('--')) continue;
    if (CURL_VALUE_OPTIONS.has(a)) {
      i++;
      continue;
    }
    if (a.startsWith('-')) {
      for (const letter of a.slice(1)) {
        if (letter === 'k') return true;
        if (CURL_VALUE_LETTERS.has(letter)) break;
      }
    }
  }
  return false;
}

/** curl or wget piped into an interpreter (`curl -fsSL url | sh`, `wget -qO- url | sudo bash -`). */
function pipeProblems(pipeline: Pipeline): Problem[] {
  const names = pipeline.map((c) => basename(effectiveWords(c)[0] ?? ''));
  const fetch = names.findIndex((n) => FETCHERS.has(n));
  if (fetch < 0) return [];
  const interp = names.slice(fetch + 1).find((n) => isInterpreter(n));
  return interp
    ? [{ what: `${names[fetch]} | ${interp} (a downloaded script run unverified)`, severity: 'medium' }]
    : [];
}

/** ENV lines that switch verification off for every later step. */
function envProblems(step: Instruction): Problem[] {
  const out: Problem[] = [];
  if (/\bNODE_TLS_REJECT_UNAUTHORIZED(?:=|\s+)["']?0\b/.test(step.args))
    out.push(off('NODE_TLS_REJECT_UNAUTHORIZED=0'));
  if (/\bGIT_SSL_NO_VERIFY(?:=|\s+)["']?(?:1|true)\b/i.test(step.args)) out.push(off('GIT_SSL_NO_VERIFY'));
  if (/\bPIP_TRUSTED_HOST(?:=|\s+)\S/.test(step.args)) out.push(off('PIP_TRUSTED_HOST'));
  if (/\bPIP_(?:EXTRA_)?INDEX_URL(?:=|\s+)["']?http:\/\//i.test(step.args)) out.push(off('pip index over plain http'));
  return out;
}

function checkBuild(input: BuildInput): RuleHit[] {
  const hits: RuleHit[] = [];
  for (const step of input.steps) {
    let problems: Problem[] = [];
    if (step.keyword === 'ENV') problems = envProblems(step);
    else if (step.keyword === 'RUN') {
      for (const pipeline of runPipelines(step)) {
        problems.push(...pipeProblems(pipeline));
        for (const cmd of pipeline) problems.push(...commandProblems(cmd.words, effectiveWords(cmd)));
      }
      // A repository written with trusted=yes or gpgcheck=0 turns checks off for every later install.
      if (/\btrusted=yes\b/.test(step.args)) problems.push(off('an apt source marked [trusted=yes]'));
      if (/^[ \t]*(?:repo_)?gpgcheck[ \t]*=[ \t]*(?:0|false|no)\b/im.test(step.args.replace(/\\n|["']/g, '\n')))
        problems.push(off('a yum/dnf repository with gpgcheck=0'));
    }
    if (problems.length === 0) continue;
    const whats = [...new Set(problems.map((p) => p.what))];
    const severity = problems.some((p) => p.severity === 'high') ? 'high' : 'medium';
    hits.push({ message: `${stepPlace(step)} installs without verification: ${whats.join('; ')}`, step, severity });
  }
  return hits;
}

export const unverifiedInstall: MisconfigRule = {
  id: 'unverified-install',
  kind: 'misconfiguration',
  title: 'Install without verification',
  severity: 'high',
  cis: '4.11',
  rationale:
    'Signatures and TLS are what tie a package or script to its publisher; switching them off, or piping a download straight into a shell, lets whoever controls the network or the mirror choose what is installed.',
  remediation:
    'Keep package signature checks and TLS verification on; import the vendor key instead of disabling checks, and download scripts to a file, verify their checksum or signature, then run them.',
  checkBuild,
};
