import type { AccessEntry, Outcome } from './facts.js';

/** Parse `repository:team/app:pull,push`; the name may hold colons (a port), the type and actions do not. */
export function parseScope(scope: string): AccessEntry | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first <= 0 || last <= first + 1) return undefined;
  const actions = scope
    .slice(last + 1)
    .split(',')
    .filter(Boolean);
  return actions.length ? { type: scope.slice(0, first), name: scope.slice(first + 1, last), actions } : undefined;
}

const MAX_TOKEN = 16 * 1024;

/**
 * The `access` claim of a registry JWT, read without verifying the signature: the audit asks what the token service
 * granted, not whether to trust the token. Opaque (non-JWT) tokens and malformed claims are a note, not a pass.
 */
export function decodeAccess(token: string): Outcome<AccessEntry[]> {
  if (token.length > MAX_TOKEN) return { ok: false, note: `the token is over ${MAX_TOKEN} characters` };
  const parts = token.split('.');
  if (parts.length !== 3) return { ok: false, note: 'the token is not a JWT (opaque tokens cannot be inspected)' };
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(parts[1] as string, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, note: 'the JWT payload is not JSON' };
  }
  if (typeof claims !== 'object' || claims === null) return { ok: false, note: 'the JWT payload is not an object' };
  const access = (claims as { access?: unknown }).access;
  if (access === undefined || access === null) return { ok: true, value: [] };
  if (!Array.isArray(access)) return { ok: false, note: "the JWT's access claim is not a list" };
  const out: AccessEntry[] = [];
  for (const e of access.slice(0, 1000)) {
    const { type, name, actions } = (e ?? {}) as { type?: unknown; name?: unknown; actions?: unknown };
    if (typeof type !== 'string' || typeof name !== 'string' || !Array.isArray(actions))
      return { ok: false, note: "an entry of the JWT's access claim lacks type, name or actions" };
    out.push({ type, name, actions: actions.filter((a): a is string => typeof a === 'string') });
  }
  return { ok: true, value: out };
}

/** What a token grants beyond the one scope asked: other resources, or other actions on it, one phrase each. */
export function scopeExcess(asked: AccessEntry, granted: readonly AccessEntry[]): string[] {
  const out: string[] = [];
  for (const g of granted) {
    const same = g.type === asked.type && g.name === asked.name;
    const extra = same ? g.actions.filter((a) => !asked.actions.includes(a)) : g.actions;
    if (extra.length === 0) continue;
    out.push(`${g.type}:${g.name}:${[...new Set(extra)].sort().join(',')}`);
  }
  return out;
}
