/** One `WWW-Authenticate` challenge: scheme plus its auth-params (ref: RFC 7235 section 4.1). */
export interface Challenge {
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

/**
 * Parse a WWW-Authenticate header, which may carry several challenges:
 * `Bearer realm="https://auth/token",service="registry",scope="repository:a/b:pull", Basic realm="x"`.
 */
export function parseChallenges(header: string | undefined): Challenge[] {
  if (!header) return [];
  const out: Challenge[] = [];
  const re = /\s*([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*)(?:\s+|$)/y;
  const paramRe = /\s*([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*(,)?/y;
  let pos = 0;
  while (pos < header.length) {
    re.lastIndex = pos;
    const m = re.exec(header);
    if (!m) break;
    pos = re.lastIndex;
    const params: Record<string, string> = {};
    for (;;) {
      paramRe.lastIndex = pos;
      const p = paramRe.exec(header);
      if (!p) break;
      const key = (p[1] as string).toLowerCase();
      // A bare token followed by '=' could be the next scheme's first param only if a scheme precedes it.
      params[key] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : (p[3] ?? '');
      pos = paramRe.lastIndex;
      if (!p[4]) break;
      // after a comma: another param of this challenge, or the next challenge's scheme
      const ahead = /\s*[A-Za-z0-9!#$%&'*+.^_`|~-]+\s*=/y;
      ahead.lastIndex = pos;
      if (!ahead.test(header)) break;
    }
    out.push({ scheme: (m[1] as string).toLowerCase(), params });
    while (pos < header.length && (header[pos] === ',' || header[pos] === ' ')) pos++;
  }
  return out;
}
