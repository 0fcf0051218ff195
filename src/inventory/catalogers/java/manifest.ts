/**
 * The main section of a JAR manifest (ref: JAR File Specification, "JAR Manifest"; java.util.jar.Manifest):
 * `Name: value` lines ending in CRLF, LF or CR, continuation lines starting with one space, the main section
 * ending at the first empty line, and a last line without a line end dropped, all as Java reads it.
 * Continuations are joined as bytes before UTF-8 decoding, so a character split across lines survives.
 * Lines Java would reject are skipped rather than failing the whole file.
 */

const decoder = new TextDecoder('utf-8');
const NAME = /^[A-Za-z0-9_-]{1,70}$/;

/** Main attributes of a manifest, keyed by lower-cased name (attribute names are case-insensitive). */
export type Manifest = ReadonlyMap<string, string>;

/** Parse the main section of a MANIFEST.MF; later duplicates win, as in java.util.jar.Attributes. */
export function parseManifest(data: Uint8Array): Manifest {
  const out = new Map<string, string>();
  let pending: Uint8Array[] | undefined;
  const commit = (): void => {
    if (!pending) return;
    const line = decoder.decode(pending.length === 1 ? pending[0] : Buffer.concat(pending));
    pending = undefined;
    const colon = line.indexOf(': ');
    if (colon <= 0) return;
    const name = line.slice(0, colon);
    if (NAME.test(name)) out.set(name.toLowerCase(), line.slice(colon + 2));
  };
  let start = 0;
  while (start < data.length) {
    let end = start;
    while (end < data.length && data[end] !== 0x0a && data[end] !== 0x0d) end++;
    if (end === data.length) {
      // Java drops a last line that has no line end, and with it an attribute that line would continue.
      if (data[start] === 0x20) pending = undefined;
      break;
    }
    const line = data.subarray(start, end);
    start = end + (data[end] === 0x0d && data[end + 1] === 0x0a ? 2 : 1);
    if (line.length === 0) break; // end of the main section
    if (line[0] === 0x20) {
      if (pending) pending.push(line.subarray(1));
      continue;
    }
    commit();
    pending = [line];
  }
  commit();
  return out;
}
