/**
 * IP ranges of NetworkPolicy ipBlocks, as intervals of addresses: whether a set of blocks (each less its `except`
 * ranges) covers a whole address family, so `0.0.0.0/1` plus `128.0.0.0/1` counts as everywhere.
 */
import { isIPv4, isIPv6 } from 'node:net';

export type Family = 4 | 6;

interface Range {
  readonly family: Family;
  readonly start: bigint;
  readonly end: bigint;
}

const BITS: Readonly<Record<Family, number>> = { 4: 32, 6: 128 };

function ipv4Value(ip: string): bigint {
  return ip.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

function ipv6Value(ip: string): bigint {
  let text = ip;
  // A trailing dotted quad (`::ffff:1.2.3.4`) is the last two groups.
  const dot = text.lastIndexOf(':');
  if (text.includes('.')) {
    const v4 = ipv4Value(text.slice(dot + 1));
    text = `${text.slice(0, dot + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const all = [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return all.reduce((acc, g) => (acc << 16n) | BigInt(Number.parseInt(g, 16)), 0n);
}

/** A CIDR as the range of addresses it names (host bits ignored, as the API server's parser does); else undefined. */
export function parseCidr(cidr: unknown): Range | undefined {
  if (typeof cidr !== 'string') return undefined;
  const m = /^([^/]+)\/(\d{1,3})$/.exec(cidr);
  if (!m) return undefined;
  const [, ip = '', bitsText = ''] = m;
  const family: Family | undefined = isIPv4(ip) ? 4 : isIPv6(ip) ? 6 : undefined;
  if (family === undefined) return undefined;
  const prefix = Number(bitsText);
  const total = BITS[family];
  if (prefix > total) return undefined;
  const host = (1n << BigInt(total - prefix)) - 1n;
  const value = family === 4 ? ipv4Value(ip) : ipv6Value(ip);
  const start = value & ~host;
  return { family, start, end: start | host };
}

/** The ranges an ipBlock admits: its cidr less its except ranges (an except that cannot be read excludes nothing). */
function blockRanges(block: Readonly<Record<string, unknown>>): Range[] {
  const whole = parseCidr(block.cidr);
  if (!whole) return [];
  const excepts = (Array.isArray(block.except) ? block.except : [])
    .map(parseCidr)
    .filter((r): r is Range => r !== undefined && r.family === whole.family)
    .sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const out: Range[] = [];
  let next = whole.start;
  for (const e of excepts) {
    if (e.end < next || e.start > whole.end) continue;
    if (e.start > next) out.push({ family: whole.family, start: next, end: e.start - 1n });
    next = e.end + 1n;
    if (next > whole.end) return out;
  }
  out.push({ family: whole.family, start: next, end: whole.end });
  return out;
}

/** Whether the union of ipBlocks admits every address of IPv4, or of IPv6. */
export function coversAnAddressFamily(blocks: readonly Readonly<Record<string, unknown>>[]): boolean {
  const ranges = blocks.flatMap(blockRanges);
  return ([4, 6] as const).some((family) => {
    const mine = ranges
      .filter((r) => r.family === family)
      .sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    let covered = 0n; // every address below this one is admitted
    for (const r of mine) {
      if (r.start > covered) return false;
      if (r.end + 1n > covered) covered = r.end + 1n;
    }
    return covered === 1n << BigInt(BITS[family]);
  });
}
