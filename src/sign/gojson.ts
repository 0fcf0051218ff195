/**
 * JSON as Go's encoding/json writes it, so that payloads Portcullis signs are byte-identical to cosign's for the same
 * input: object keys in the order given (Go structs) or sorted (Go maps, see `sortKeys`), and `<`, `>`, `&`, U+2028,
 * U+2029 escaped as \u00XX (Go's HTML-safe default). Those characters can only occur inside strings, so escaping the
 * whole text is exact.
 */
export function goJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${(c.codePointAt(0) as number).toString(16).padStart(4, '0')}`,
  );
}

/** A copy of a JSON value with every object's keys sorted, as Go marshals `map[string]interface{}`. */
export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort(byUtf8)) out[k] = sortKeys((value as Record<string, unknown>)[k]);
    return out;
  }
  return value;
}

/** Go sorts map keys by their UTF-8 bytes; JavaScript's default sort compares UTF-16 units. */
function byUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
