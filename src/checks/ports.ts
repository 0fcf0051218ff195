import { printable } from '../errors.js';

/** An exposed port of the config: `80/tcp`, `53/udp`, `22` (tcp), or a range `8000-8010/tcp`. */
export interface ExposedPort {
  readonly key: string;
  readonly low: number;
  readonly high: number;
  readonly proto: string;
}

/** The well-formed exposed ports of a config; malformed keys are not ports the runtime would publish. */
export function exposedPorts(ports: Readonly<Record<string, object>> | null | undefined): ExposedPort[] {
  const out: ExposedPort[] = [];
  for (const key of Object.keys(ports ?? {})) {
    const m = /^(\d{1,5})(?:-(\d{1,5}))?(?:\/([a-z]+))?$/i.exec(key.trim());
    if (!m) continue;
    const low = Number(m[1]);
    const high = m[2] ? Number(m[2]) : low;
    if (high < low || high > 65535) continue;
    out.push({ key: printable(key, 40), low, high, proto: (m[3] ?? 'tcp').toLowerCase() });
  }
  return out;
}
