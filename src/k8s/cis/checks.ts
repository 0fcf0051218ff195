/**
 * The tests the CIS items are made of (pure): flags set, booleans, comma lists, numbers, loopback addresses, file
 * modes and owners. Each returns the problems it found, with the flag use (and so the line) each is about.
 */
import { isIP } from 'node:net';
import { type Flags, type FlagUse, parseBool, type Where } from './flags.js';
import type { FileFacts, NodeSnapshot } from './node.js';

export interface Problem {
  readonly message: string;
  /** The line it is about; absent: the component's anchor (its command, or the kubelet's ExecStart). */
  readonly at?: Where | undefined;
}

const where = (u: FlagUse | undefined): Where | undefined => u?.at;
const shown = (u: FlagUse) => `--${u.name}=${u.value}`;

/** Each flag is set to something (a file, a path). */
export function isSet(...names: string[]) {
  return (f: Flags): Problem[] =>
    names.flatMap((n) => {
      const u = f.last(n);
      if (!u) return [{ message: `--${n} is not set` }];
      if (u.value.trim() === '') return [{ message: `--${n} is set to an empty value`, at: where(u) }];
      return [];
    });
}

export function notSet(name: string) {
  return (f: Flags): Problem[] => {
    const u = f.last(name);
    return u ? [{ message: `${shown(u)} is set`, at: where(u) }] : [];
  };
}

/** A boolean flag must end up `want`; `dflt` is the component's default when it is not set. */
export function boolIs(name: string, want: boolean, dflt: boolean) {
  return (f: Flags): Problem[] => {
    const u = f.last(name);
    if (!u) return dflt === want ? [] : [{ message: `--${name} is not set (the default is ${dflt})` }];
    const v = parseBool(u.value);
    if (v === undefined)
      return [{ message: `${shown(u)} is not a boolean (the component refuses to start)`, at: where(u) }];
    if (v === want) return [];
    // `--profiling false` is pflag's `--profiling` (true) and a stray word: say so, it is easy to misread.
    return [{ message: u.bare ? `--${name} is given without a value, which means true` : shown(u), at: where(u) }];
  };
}

/** A comma-list flag includes (or leaves out) an item; `dflt` is what applies when the flag is not set. */
export function listHas(name: string, item: string, dflt: readonly string[] = []) {
  return (f: Flags): Problem[] => {
    const items = f.list(name);
    if (items.length === 0)
      return dflt.includes(item)
        ? []
        : [
            {
              message: f.has(name)
                ? `--${name} is empty: ${item} is not included`
                : `--${name} is not set${dflt.length ? ` (the default is ${dflt.join(',')})` : ''}: ${item} is not included`,
              at: where(f.last(name)),
            },
          ];
    if (items.some((x) => x.item === item)) return [];
    const last = items[items.length - 1]?.use;
    return [{ message: `--${name}=${items.map((x) => x.item).join(',')} does not include ${item}`, at: where(last) }];
  };
}

export function listLacks(name: string, item: string, dflt: readonly string[] = []) {
  return (f: Flags): Problem[] => {
    const items = f.list(name);
    if (items.length === 0 && !f.has(name) && dflt.includes(item))
      return [{ message: `--${name} is not set and the default is ${dflt.join(',')}` }];
    const hit = items.find((x) => x.item === item);
    return hit ? [{ message: `--${name} includes ${item}`, at: where(hit.use) }] : [];
  };
}

/** An integer flag at least `min` (the components' default for these is 0). */
export function atLeast(name: string, min: number) {
  return (f: Flags): Problem[] => {
    const u = f.last(name);
    if (!u) return [{ message: `--${name} is not set (the default is 0; at least ${min} is recommended)` }];
    if (!/^\d+$/.test(u.value.trim())) return [{ message: `${shown(u)} is not a whole number`, at: where(u) }];
    return Number(u.value.trim()) >= min ? [] : [{ message: `${shown(u)} is below ${min}`, at: where(u) }];
  };
}

/** The address is a loopback one (127.0.0.0/8 or ::1); the default of these components is 0.0.0.0. */
export function loopback(name: string) {
  return (f: Flags): Problem[] => {
    const u = f.last(name);
    if (!u) return [{ message: `--${name} is not set (the default, 0.0.0.0, listens on every interface)` }];
    const v = u.value.trim().replace(/^\[|\]$/g, '');
    const ok = (isIP(v) === 4 && v.startsWith('127.')) || (isIP(v) === 6 && /^(0*:)*:?0*1$/.test(v));
    return ok ? [] : [{ message: `${shown(u)} is not a loopback address`, at: where(u) }];
  };
}

/** A feature gate is not turned off (`--feature-gates=Gate=false`). */
export function gateNotFalse(gate: string) {
  return (f: Flags): Problem[] => {
    const g = f.map('feature-gates').get(gate);
    return g && parseBool(g.value) === false
      ? [{ message: `--feature-gates sets ${gate}=${g.value}`, at: where(g.use) }]
      : [];
  };
}

export type FileTest = (file: FileFacts, node: NodeSnapshot) => string | undefined;

const octal = (m: number) => `0${m.toString(8).padStart(3, '0')}`;

/** Permissions `max` or more restrictive: no bit outside `max` (set-id and sticky bits included). */
export function modeAtMost(max: number): FileTest {
  return (file) =>
    (file.stat.mode & ~max) !== 0 ? `mode ${octal(file.stat.mode)}, more permissive than ${octal(max)}` : undefined;
}

export function ownedBy(user: string, group: string): FileTest {
  return (file, node) => {
    const uid = user === 'root' ? 0 : node.users.get(user);
    const gid = group === 'root' ? 0 : node.groups.get(group);
    if (file.stat.uid === uid && file.stat.gid === gid) return undefined;
    const now = `${node.userName(file.stat.uid)}:${node.groupName(file.stat.gid)}`;
    const none = [uid === undefined ? `no ${user} user` : '', gid === undefined ? `no ${group} group` : '']
      .filter(Boolean)
      .join(' and ');
    return `owned by ${now}, not ${user}:${group}${none ? ` (the node has ${none})` : ''}`;
  };
}
