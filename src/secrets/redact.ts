/**
 * Masking of secrets for reports: never the secret in full, and never enough of it to narrow a guess much. A secret of
 * 32 characters or more keeps its first and last 4 (enough to tell two keys apart; 24 or more stay hidden); one of 20
 * to 31 keeps its last 4 (an AWS key id, as AWS's console shows it); a shorter one is masked whole.
 */
const MAX_STARS = 32;

export function mask(secret: string): string {
  const stars = (n: number): string => '*'.repeat(Math.min(n, MAX_STARS));
  // Bytes that are not printable ASCII (latin1-read UTF-8, control characters) are masked too.
  const safe = (s: string): string => s.replace(/[^\x20-\x7e]/g, '*');
  if (secret.length < 20) return stars(secret.length);
  const tail = safe(secret.slice(-4));
  if (secret.length < 32) return `${stars(secret.length - 4)}${tail}`;
  return `${safe(secret.slice(0, 4))}${stars(secret.length - 8)}${tail}`;
}

/** Printable form of the non-secret context around a secret (names, prefixes): control bytes become `?`. */
export function clean(text: string, max = 120): string {
  const s = text.replace(/[^\x20-\x7e]/g, '?');
  return s.length > max ? `${s.slice(0, max)}…` : s;
}
