/**
 * The `ranges` column read back. Nearly every row holds one range of an `introduced` event and at most one `fixed`
 * event, written by JSON.stringify with no escapes in it: that shape is read with one regular expression, about five
 * times faster than JSON.parse, into the same objects (same keys, same order); anything else goes to JSON.parse.
 */
import type { AffectedRange } from '../advisories/model.js';

// No quote, backslash or control character inside a string: its JSON text is then exactly its value.
const COMMON =
  /^\[\{"type":"(ECOSYSTEM|SEMVER)","events":\[\{"introduced":"([^"\\\x00-\x1f]*)"\}(?:,\{"fixed":"([^"\\\x00-\x1f]*)"\})?\]\}\]$/;

export function parseRanges(json: string): AffectedRange[] {
  const m = COMMON.exec(json);
  if (m === null) return JSON.parse(json) as AffectedRange[];
  const type = m[1] as 'ECOSYSTEM' | 'SEMVER';
  const introduced = m[2] as string;
  const fixed = m[3];
  return [{ type, events: fixed === undefined ? [{ introduced }] : [{ introduced }, { fixed }] }];
}
