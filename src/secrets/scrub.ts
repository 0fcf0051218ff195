import type { Subject } from '../inventory/image.js';
import { isSecretName, isSecretValue } from './names.js';
import { clean, mask } from './redact.js';
import { ENV_SPACE_RULE, SECRET_RULES } from './rules.js';

/**
 * Secrets masked in text that reports repeat from the image or the Dockerfile (a RUN line in a build rule's message,
 * a label, a history entry): the same masks the secret findings show, so no output prints what a finding hides.
 */

/** The rules that read free text (not whole credential files), and passwords given to curl and wget. */
const TEXT_RULES = [...SECRET_RULES.filter((r) => !r.paths), ENV_SPACE_RULE];
const CLI_PASSWORD =
  /(?:(?<![\w-])(?:-u|--user|--proxy-user)(?:[ \t]+|=)["']?[^\s:"']{1,200}:|--(?:http-|ftp-|proxy-)?password(?:[ \t]+|=)["']?)(?<secret>[^\s"']{1,300})/dg;
const MAX_TEXT = 64 * 1024;

/** `text` with every secret a text rule finds in it masked. Pure; bounded by the rules' linear patterns. */
export function scrubText(text: string): string {
  if (text.length > MAX_TEXT) {
    // Cut at a space, so no secret is cut in two (half a token no longer matches, and would show).
    const cut = text.lastIndexOf(' ', MAX_TEXT);
    return `${scrubText(text.slice(0, cut > 0 ? cut : MAX_TEXT))}…`;
  }
  const spans: [number, number, string][] = [];
  for (const rule of TEXT_RULES) {
    if (rule.keywords.length > 0 && !rule.keywords.some((k) => text.includes(k))) continue;
    collect(rule.pattern, text, spans, rule.accept, (m) => (rule.show ? clean(rule.show(m)) : undefined));
  }
  // A key's match ends 40 characters into its body: the rest of the body goes with it, to its END line (PEM) or
  // its Private-MAC line (PuTTY).
  for (const span of spans) {
    const putty = span[2].startsWith('PuTTY-User-Key-File');
    if (!span[2].includes('PRIVATE KEY') && !putty) continue;
    const after = text.slice(span[1], span[1] + 16 * 1024);
    const mac = putty ? /Private-MAC:[ \t]*[0-9A-Fa-f]*/.exec(after) : null;
    const body = /^[A-Za-z0-9+/=\s\\]*(?:-----END[A-Z0-9 ]{0,40}-----)?/.exec(after);
    span[1] += mac ? mac.index + mac[0].length : (body?.[0].length ?? 0);
  }
  collect(CLI_PASSWORD, text, spans);
  if (spans.length === 0) return text;
  spans.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  let out = '';
  let at = 0;
  for (const [from, to, replacement] of spans) {
    if (from < at) continue; // inside a span already masked
    out += text.slice(at, from) + replacement;
    at = to;
  }
  return out + text.slice(at);
}

function collect(
  pattern: RegExp,
  text: string,
  spans: [number, number, string][],
  accept?: (m: RegExpExecArray) => boolean,
  whole?: (m: RegExpExecArray) => string | undefined,
): void {
  // Every pattern carries the g and d flags (the rules' tests hold them to it); scans are synchronous, as matchWhole's.
  const re = pattern;
  re.lastIndex = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m[0].length === 0) re.lastIndex++;
    if (accept && !accept(m)) continue;
    const span = m.indices?.groups?.secret;
    const shown = whole?.(m);
    if (shown !== undefined) spans.push([m.index, m.index + m[0].length, shown]);
    else if (span && m.groups?.secret !== undefined) spans.push([span[0], span[1], mask(m.groups.secret)]);
    else spans.push([m.index, m.index + m[0].length, mask(m[0])]);
  }
}

/** A label or annotation value: masked whole when its name says it holds a secret, else scrubbed. */
export function scrubNamedValue(name: string, value: string): string {
  return isSecretName(name) && isSecretValue(value) ? mask(value) : scrubText(value);
}

/** The subject as reports print it: labels, annotations and history with their secrets masked. */
export function scrubSubject(s: Subject): Subject {
  const named = (o: Readonly<Record<string, string>> | undefined) =>
    o && Object.fromEntries(Object.entries(o).map(([k, v]) => [k, scrubNamedValue(k, v)]));
  const labels = named(s.labels);
  const annotations = named(s.annotations);
  return {
    ...s,
    ...(labels ? { labels } : {}),
    ...(annotations ? { annotations } : {}),
    layers: s.layers.map((l) => {
      const createdBy = l.createdBy === undefined ? l.createdBy : scrubText(l.createdBy);
      return createdBy === undefined || createdBy === l.createdBy ? l : { ...l, createdBy };
    }),
  };
}
