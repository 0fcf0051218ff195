/**
 * `k8s placement fix` output: strategic-merge patches as a YAML stream (each preceded by comments naming the object and
 * what changes), a JSON array with RFC 6902 patches, or one `kubectl patch --type=json` line per object.
 */
import { printable } from '../../errors.js';
import { lazyRequire } from '../../util/lazy.js';
import { describeObject } from '../model.js';
import type { FixPlan } from './fix.js';

const yaml = lazyRequire<typeof import('yaml')>('yaml');

function where(p: FixPlan): string {
  const at = p.object.locate([]);
  return `${p.object.source.file}:${at.line}`;
}

/** One comment line: control characters (a newline in a hostile name) cannot end the comment early. */
const comment = (text: string) => `# ${printable(text, 400)}\n`;

export function renderYaml(plans: readonly FixPlan[]): string {
  if (plans.length === 0) return comment('no patches: every workload with a known level is placed correctly');
  return plans
    .map((p) => {
      let out = comment(`${describeObject(p.object)} (${where(p)}): level ${p.level}`);
      for (const c of p.changes) out += comment(`- ${c}`);
      for (const n of p.notes) out += comment(`note: ${n}`);
      return out + yaml().stringify(p.mergePatch, { lineWidth: 0 });
    })
    .join('---\n');
}

export function renderJson(plans: readonly FixPlan[]): string {
  const items = plans.map((p) => ({
    apiVersion: p.object.apiVersion,
    kind: p.object.kind,
    ...(p.object.namespace !== undefined ? { namespace: p.object.namespace } : {}),
    name: p.object.name,
    file: where(p),
    level: p.level,
    changes: p.changes,
    notes: p.notes,
    patch: p.jsonPatch,
  }));
  return `${JSON.stringify(items, null, 2)}\n`;
}

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** POSIX shell quoting: safe words bare, anything else in single quotes (a quote as '\''). */
export function shellQuote(s: string): string {
  return SAFE.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The resource name kubectl takes, qualified by API group so a custom resource of the same kind cannot be meant. */
function resource(apiVersion: string, kind: string): string {
  const slash = apiVersion.indexOf('/');
  const group = slash < 0 ? '' : apiVersion.slice(0, slash);
  return group ? `${kind.toLowerCase()}.${group}` : kind.toLowerCase();
}

export function renderKubectl(plans: readonly FixPlan[]): string {
  if (plans.length === 0) return comment('no patches: every workload with a known level is placed correctly');
  return plans
    .map((p) => {
      const o = p.object;
      let out = '';
      for (const n of p.notes) out += comment(`${describeObject(o)}: ${n}`);
      const words = ['kubectl', 'patch', resource(o.apiVersion, o.kind), o.name];
      if (o.namespace !== undefined) words.push('-n', o.namespace);
      words.push('--type=json', '-p', JSON.stringify(p.jsonPatch));
      return `${out}${words.map(shellQuote).join(' ')}\n`;
    })
    .join('');
}
