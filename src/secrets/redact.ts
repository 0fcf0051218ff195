/**
 * Masking of secrets for reports: never the secret in full. A secret of 16 characters or more keeps its first and
 * last 4 (enough to tell two keys apart, far too little to use one); a shorter one is masked whole.
 */
const MAX_STARS = 32;

export function mask(secret: string): string {
  if (secret.length < 16) return '*'.repeat(Math.min(secret.length, MAX_STARS));
  const head = secret.slice(0, 4);
  const tail = secret.slice(-4);
  // Bytes that are not printable ASCII (latin1-read UTF-8, control characters) are masked too.
  const safe = (s: string): string => s.replace(/[^\x20-\x7e]/g, '*');
  return `${safe(head)}${'*'.repeat(Math.min(secret.length - 8, MAX_STARS))}${safe(tail)}`;
}

/** Printable form of the non-secret context around a secret (names, prefixes): control bytes become `?`. */
export function clean(text: string, max = 120): string {
  const s = text.replace(/[^\x20-\x7e]/g, '?');
  return s.length > max ? `${s.slice(0, max)}…` : s;
}
