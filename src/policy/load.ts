import { createHash, createPublicKey } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { allRules } from '../checks/registry.js';
import { PortcullisError, printable } from '../errors.js';
import { readBoundedFile } from '../util/boundedfile.js';
import { globMatch } from './match.js';
import type {
  ApprovedBaseImage,
  BaseImageRules,
  Duration,
  PackageRule,
  Policy,
  PolicyException,
  PolicyRules,
  PolicySeverity,
  RuleIdRules,
  TrustedKey,
  VulnerabilityRules,
} from './model.js';
import { validatePolicySchema } from './schema.js';
import { dottedPath, MAX_POLICY_BYTES, type Problem, parseYaml, positionAt, type YamlSource } from './yaml.js';

/** At most this many problems are listed; the rest are counted. */
const MAX_PROBLEMS = 20;
/** A key file larger than this is not a public key. */
const MAX_KEY_BYTES = 64 * 1024;

/** POLICY_INVALID with every problem found, each one line: `file:line:column: path: what is wrong`. */
export class PolicyInvalidError extends PortcullisError {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    const shown = problems.slice(0, MAX_PROBLEMS);
    if (problems.length > MAX_PROBLEMS) shown.push(`… and ${problems.length - MAX_PROBLEMS} more problems`);
    super('POLICY_INVALID', shown.length === 1 ? (shown[0] as string) : `${shown[0]} (and ${shown.length - 1} more)`);
    this.problems = shown;
  }
}

/** How a policy reaches outside its own text: key files named in it. */
export interface LoadOptions {
  /** Read a key file named in the policy (path resolved against the policy's directory); throws if it cannot. */
  readonly readKeyFile?: (path: string) => string;
}

/** The raw shape the schema guarantees (see schemas/policy.schema.json). */
interface RawPolicy {
  name: string;
  description?: string;
  rules: {
    vulnerabilities?: {
      failOn: PolicySeverity;
      onlyFixable?: boolean;
      fixAvailableFor?: string;
      unknownSeverity?: PolicySeverity;
      includeUnimportant?: boolean;
      limits?: Partial<Record<PolicySeverity | 'total', number>>;
      packages?: {
        package: string;
        failOn?: PolicySeverity;
        onlyFixable?: boolean;
        fixAvailableFor?: string;
        ignore?: boolean;
        reason?: string;
      }[];
    };
    misconfigurations?: { failOn?: PolicySeverity; fail?: string[] };
    secrets?: { failOn?: PolicySeverity; fail?: string[] };
    baseImage?: {
      approved: { name: string; digest?: string; layers?: string[] }[];
      trustAnnotations?: boolean;
      signature?: { keys: string[] };
    };
    registries?: string[];
    labels?: { key: string; value?: string }[];
    maxAge?: string;
    inventory?: { complete: true };
    checkSettings?: { allow: string[] };
  };
  exceptions?: { id?: string; package?: string; image?: string; reason: string; expires: string }[];
}

const UNIT_MS = { h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 } as const;

/** `90d` (the schema has checked the shape). */
export function parseDuration(text: string): Duration {
  const unit = text.slice(-1) as keyof typeof UNIT_MS;
  return { text, ms: Number(text.slice(0, -1)) * UNIT_MS[unit] };
}

/** A date (00:00 UTC of that day) or an RFC 3339 time, as ms; undefined when it is no real date (2025-02-30). */
export function parseInstant(text: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(text);
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const day = new Date(Date.UTC(y, mo - 1, d));
  if (day.getUTCFullYear() !== y || day.getUTCMonth() !== mo - 1 || day.getUTCDate() !== d) return undefined;
  const t = text.length === 10 ? day.getTime() : Date.parse(text);
  return Number.isFinite(t) ? t : undefined;
}

/** `sha256:<hex>` of a PEM public key's DER SubjectPublicKeyInfo: how policies and verifiers name keys. */
export function keyFingerprint(pem: string): string {
  const der = createPublicKey(pem).export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(der).digest('hex')}`;
}

class Checker {
  readonly problems: Problem[] = [];
  constructor(private readonly src: YamlSource) {}
  add(path: readonly (string | number)[], message: string, key?: string): void {
    const at = positionAt(this.src, path, key);
    this.problems.push({ line: at.line, column: at.column, message: `${dottedPath(path)}: ${message}` });
  }
}

function normalise(raw: RawPolicy, c: Checker, file: string, opts: LoadOptions): PolicyRules {
  const r = raw.rules;
  const rules: { -readonly [K in keyof PolicyRules]: PolicyRules[K] } = {};
  if (r.vulnerabilities) rules.vulnerabilities = vulnerabilities(r.vulnerabilities, c);
  if (r.misconfigurations) rules.misconfigurations = ruleIds(r.misconfigurations, 'misconfiguration', c);
  if (r.secrets) rules.secrets = ruleIds(r.secrets, 'secret', c);
  if (r.baseImage) rules.baseImage = baseImage(r.baseImage, c, file, opts);
  if (r.registries) rules.registries = r.registries;
  if (r.labels) {
    r.labels.forEach((l, i) => {
      if (l.value === undefined) return;
      try {
        new RegExp(`^(?:${l.value})$`, 'u');
      } catch (err) {
        c.add(
          ['rules', 'labels', i, 'value'],
          `not a valid regular expression (${printable((err as Error).message, 100)})`,
        );
      }
    });
    rules.labels = r.labels.map((l) => ({ key: l.key, ...(l.value !== undefined ? { value: l.value } : {}) }));
  }
  if (r.maxAge) rules.maxAge = parseDuration(r.maxAge);
  if (r.inventory?.complete) rules.completeInventory = true;
  if (r.checkSettings) rules.checkSettings = { allow: [...new Set(r.checkSettings.allow.map((a) => a.toLowerCase()))] };
  return rules;
}

function vulnerabilities(v: NonNullable<RawPolicy['rules']['vulnerabilities']>, c: Checker): VulnerabilityRules {
  const at = ['rules', 'vulnerabilities'];
  if (v.fixAvailableFor !== undefined && v.onlyFixable === false)
    c.add([...at, 'onlyFixable'], 'false contradicts fixAvailableFor, which only counts findings with a fix');
  const packages: PackageRule[] = (v.packages ?? []).map((p, i) => {
    const here = [...at, 'packages', i];
    const sets = p.failOn !== undefined || p.onlyFixable !== undefined || p.fixAvailableFor !== undefined;
    if (!sets && p.ignore !== true)
      c.add(here, 'says nothing: give failOn, onlyFixable, fixAvailableFor or ignore: true');
    if (sets && p.ignore === true)
      c.add([...here, 'ignore'], 'ignore: true cannot be combined with failOn, onlyFixable or fixAvailableFor');
    if (p.fixAvailableFor !== undefined && p.onlyFixable === false)
      c.add([...here, 'onlyFixable'], 'false contradicts fixAvailableFor, which only counts findings with a fix');
    return {
      index: i + 1,
      package: p.package,
      ...(p.failOn !== undefined ? { failOn: p.failOn } : {}),
      ...(p.onlyFixable !== undefined ? { onlyFixable: p.onlyFixable } : {}),
      ...(p.fixAvailableFor !== undefined ? { fixAvailableFor: parseDuration(p.fixAvailableFor) } : {}),
      ...(p.ignore !== undefined ? { ignore: p.ignore } : {}),
      ...(p.reason !== undefined ? { reason: p.reason } : {}),
    };
  });
  return {
    failOn: v.failOn,
    onlyFixable: v.onlyFixable ?? v.fixAvailableFor !== undefined,
    ...(v.fixAvailableFor !== undefined ? { fixAvailableFor: parseDuration(v.fixAvailableFor) } : {}),
    unknownSeverity: v.unknownSeverity ?? 'high',
    includeUnimportant: v.includeUnimportant ?? false,
    ...(v.limits ? { limits: v.limits } : {}),
    packages,
  };
}

/** A `fail` pattern that matches no rule would never fail anything: a typo must not read as a pass. */
function ruleIds(
  r: { failOn?: PolicySeverity; fail?: string[] },
  kind: 'misconfiguration' | 'secret',
  c: Checker,
): RuleIdRules {
  const key = kind === 'secret' ? 'secrets' : 'misconfigurations';
  const ids = allRules()
    .filter((rule) => rule.kind === kind)
    .map((rule) => rule.id);
  (r.fail ?? []).forEach((p, i) => {
    if (!ids.some((id) => globMatch(p, id)))
      c.add(['rules', key, 'fail', i], `'${printable(p, 80)}' matches no ${kind} rule (portcullis rules lists them)`);
  });
  return { ...(r.failOn ? { failOn: r.failOn } : {}), fail: r.fail ?? [] };
}

function baseImage(
  b: NonNullable<RawPolicy['rules']['baseImage']>,
  c: Checker,
  file: string,
  opts: LoadOptions,
): BaseImageRules {
  const approved: ApprovedBaseImage[] = b.approved.map((a) => ({
    name: a.name,
    ...(a.digest ? { digest: a.digest } : {}),
    ...(a.layers ? { layers: a.layers } : {}),
  }));
  b.approved.forEach((a, i) => {
    if (!a.digest && !a.layers)
      c.add(['rules', 'baseImage', 'approved', i], 'needs layers (diff_ids) or a digest to be recognised by');
  });
  let signature: BaseImageRules['signature'];
  if (b.signature) {
    const keys: TrustedKey[] = [];
    b.signature.keys.forEach((k, i) => {
      if (/^sha256:[0-9a-f]{64}$/.test(k)) {
        keys.push({ fingerprint: k, source: k });
        return;
      }
      const path = resolve(dirname(file), k);
      let pem: string;
      try {
        pem = (opts.readKeyFile ?? readKeyFile)(path);
      } catch (err) {
        const why =
          err instanceof PortcullisError ? err.message : ((err as NodeJS.ErrnoException).code ?? 'unreadable');
        c.add(
          ['rules', 'baseImage', 'signature', 'keys', i],
          `cannot read key '${printable(k, 80)}' (${printable(why, 200)})`,
        );
        return;
      }
      try {
        keys.push({ fingerprint: keyFingerprint(pem), source: k });
      } catch {
        c.add(['rules', 'baseImage', 'signature', 'keys', i], `'${printable(k, 80)}' is not a PEM public key`);
      }
    });
    signature = { keys };
  }
  return { approved, trustAnnotations: b.trustAnnotations ?? false, ...(signature ? { signature } : {}) };
}

function exceptions(raw: RawPolicy, c: Checker, src: YamlSource): PolicyException[] {
  return (raw.exceptions ?? []).map((e, i) => {
    const expiresAt = parseInstant(e.expires);
    if (expiresAt === undefined) c.add(['exceptions', i, 'expires'], `'${e.expires}' is not a real date`);
    const at = positionAt(src, ['exceptions', i]);
    return {
      index: i + 1,
      at: { line: at.line, column: at.column },
      ...(e.id !== undefined ? { id: e.id } : {}),
      ...(e.package !== undefined ? { package: e.package } : {}),
      ...(e.image !== undefined ? { image: e.image } : {}),
      reason: e.reason,
      expires: e.expires,
      expiresAt: expiresAt ?? Number.NEGATIVE_INFINITY,
    };
  });
}

function formatted(file: string, problems: readonly Problem[]): string[] {
  const sorted = [...problems].sort((a, b) => a.line - b.line || a.column - b.column);
  const lines = sorted.map((p) => `${printable(file, 200)}:${p.line}:${p.column}: ${p.message}`);
  return [...new Set(lines)];
}

/**
 * Parse and validate policy text; `file` names it in messages and anchors relative key paths. Throws
 * PolicyInvalidError (POLICY_INVALID) listing every problem with its line and column; never anything else for bad
 * input.
 */
export function parsePolicy(text: string, file: string, opts: LoadOptions = {}): Policy {
  const clean = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const parsed = parseYaml(clean);
  if ('problems' in parsed) throw new PolicyInvalidError(formatted(file, parsed.problems));
  const schemaProblems = validatePolicySchema(parsed.value);
  if (schemaProblems.length > 0) {
    const problems = schemaProblems.map((p) => {
      const at = positionAt(parsed, p.key === undefined ? p.path : p.path.slice(0, -1), p.key);
      return { line: at.line, column: at.column, message: `${dottedPath(p.path)}: ${p.message}` };
    });
    throw new PolicyInvalidError(formatted(file, problems));
  }
  const raw = parsed.value as RawPolicy;
  const c = new Checker(parsed);
  const rules = normalise(raw, c, file, opts);
  const excs = exceptions(raw, c, parsed);
  if (c.problems.length > 0) throw new PolicyInvalidError(formatted(file, c.problems));
  return {
    name: raw.name,
    ...(raw.description !== undefined ? { description: raw.description } : {}),
    file,
    digest: `sha256:${createHash('sha256').update(text).digest('hex')}`,
    rules,
    exceptions: excs,
  };
}

/** Read a file of at most `max` bytes; POLICY_INVALID (or NOT_FOUND) otherwise. */
function readBounded(path: string, max: number, what: string): Buffer {
  const r = readBoundedFile(path, max);
  if (r.ok) return r.bytes;
  switch (r.problem) {
    case 'missing':
      throw new PortcullisError('NOT_FOUND', `${what} ${printable(path)}: no such file`);
    case 'unreadable':
      throw new PortcullisError('POLICY_INVALID', `${printable(path)}: cannot be read (${r.code ?? 'error'})`);
    case 'not-a-file':
      throw new PortcullisError('POLICY_INVALID', `${printable(path)}: not a regular file`);
    case 'too-large':
      throw new PortcullisError(
        'POLICY_INVALID',
        `${printable(path)}:1:1: larger than ${max >= 1024 * 1024 ? `${max / 1024 / 1024} MiB` : `${max / 1024} KiB`}`,
      );
  }
}

function readKeyFile(path: string): string {
  return readBounded(path, MAX_KEY_BYTES, 'key').toString('utf8');
}

/** Read, parse and validate a policy file (at most 1 MiB). */
export function loadPolicy(path: string, opts: LoadOptions = {}): Policy {
  const bytes = readBounded(path, MAX_POLICY_BYTES, '--policy');
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  return { ...parsePolicy(text, path, opts), digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}` };
}
