/**
 * Pure parsing and formatting of the distribution API's headers: pagination links, upload ranges and
 * the referrers tag. Nothing here touches the network.
 */

/**
 * The `rel="next"` target of a Link header, resolved against the request URL (ref: RFC 8288 section 3;
 * distribution-spec: tag listing and referrers pagination). Undefined when there is none or it is unreadable.
 */
export function parseLinkNext(header: string | readonly string[] | undefined, base: URL): URL | undefined {
  const values = header === undefined ? [] : typeof header === 'string' ? [header] : header;
  for (const value of values) {
    // link-value = "<" URI-Reference ">" *( OWS ";" OWS link-param ), comma-separated
    const re = /<([^>]*)>((?:\s*;\s*[^;,]*)*)/g;
    for (let m = re.exec(value); m; m = re.exec(value)) {
      const params = (m[2] ?? '').split(';').slice(1);
      const rel = params.map((p) => /^\s*rel\s*=\s*(?:"([^"]*)"|([^\s"]+))\s*$/i.exec(p)).find((r) => r !== null);
      const rels = (rel?.[1] ?? rel?.[2] ?? '').toLowerCase().split(/\s+/);
      if (!rels.includes('next')) continue;
      try {
        return new URL(m[1] ?? '', base);
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/**
 * The bytes an upload session holds, from its `Range: 0-<end>` header (distribution also writes
 * `bytes=0-<end>`). Distribution reports `0-0` both for an empty session and after one byte, so that
 * value is ambiguous and reads as undefined; so does anything unreadable.
 */
export function uploadedBytes(header: string | readonly string[] | undefined): number | undefined {
  const v = typeof header === 'string' ? header : header?.[0];
  const m = v === undefined ? null : /^\s*(?:bytes=)?0-(\d{1,15})\s*$/.exec(v);
  if (!m) return undefined;
  const end = Number(m[1]);
  return end === 0 ? undefined : end + 1;
}

/** `Content-Range` of a PATCH chunk: inclusive on both ends, no unit (ref: distribution-spec, chunked upload). */
export function chunkRange(offset: number, length: number): string {
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 1) {
    throw new RangeError(`chunkRange: bad offset ${offset} or length ${length}`);
  }
  return `${offset}-${offset + length - 1}`;
}

/**
 * The referrers tag of a digest: algorithm truncated to 32 characters, `-`, encoded part truncated to 64,
 * characters a tag cannot hold replaced by `-` (ref: distribution-spec, referrers tag schema).
 */
export function referrersTag(digest: string): string {
  const colon = digest.indexOf(':');
  if (colon <= 0) throw new RangeError(`referrersTag: '${digest}' is not a digest`);
  const tag = `${digest.slice(0, colon).slice(0, 32)}-${digest.slice(colon + 1).slice(0, 64)}`;
  return tag.replace(/[^a-zA-Z0-9_.-]/g, '-');
}
