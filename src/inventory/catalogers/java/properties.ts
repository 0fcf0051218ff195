/**
 * Java `.properties` files as java.util.Properties.load(InputStream) reads them (ref: its Javadoc, and
 * Properties.LineReader in OpenJDK 17): ISO-8859-1 text, `#`/`!` comment lines, backslash line continuation,
 * `=`, `:` or whitespace between key and value, and `\t \n \r \f \uXXXX` escapes. Where Java would throw
 * (a malformed `\u` escape) the characters are kept as written instead.
 */

const isSpace = (c: string): boolean => c === ' ' || c === '\t' || c === '\f';

/** Logical lines, with comments and blank lines dropped and continuations joined, as Properties.LineReader does. */
function logicalLines(text: string): string[] {
  const out: string[] = [];
  let len = 0;
  let skipWhiteSpace = true;
  let appendedLineBegin = false;
  let isComment = false;
  let precedingBackslash = false;
  let skipLF = false;
  const parts: string[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (skipLF) {
      skipLF = false;
      if (c === '\n') continue;
    }
    if (skipWhiteSpace) {
      if (isSpace(c)) continue;
      if (!appendedLineBegin && (c === '\r' || c === '\n')) continue;
      skipWhiteSpace = false;
      appendedLineBegin = false;
    }
    // A comment starts where the logical line is still empty, also right after a continuation.
    if (len === 0 && (c === '#' || c === '!')) isComment = true;
    if (c !== '\n' && c !== '\r') {
      if (!isComment) parts.push(c);
      len++;
      precedingBackslash = c === '\\' ? !precedingBackslash : false;
      continue;
    }
    if (isComment || len === 0) {
      isComment = false;
      skipWhiteSpace = true;
      precedingBackslash = false;
      parts.length = 0;
      len = 0;
      continue;
    }
    if (precedingBackslash) {
      parts.pop(); // the backslash at the end of a line is not part of it
      len--;
      skipWhiteSpace = true;
      appendedLineBegin = true;
      precedingBackslash = false;
      if (c === '\r') skipLF = true;
      continue;
    }
    out.push(parts.join(''));
    parts.length = 0;
    len = 0;
    skipWhiteSpace = true;
  }
  if (len > 0 && !isComment) {
    if (precedingBackslash) parts.pop();
    out.push(parts.join(''));
  }
  return out;
}

const HEX = /^[0-9a-fA-F]{4}$/;

function loadConvert(s: string): string {
  if (!s.includes('\\')) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (c !== '\\' || i + 1 >= s.length) {
      out += c;
      continue;
    }
    const e = s[++i] as string;
    if (e === 'u') {
      const hex = s.slice(i + 1, i + 5);
      if (HEX.test(hex)) {
        out += String.fromCharCode(Number.parseInt(hex, 16));
        i += 4;
      } else out += 'u';
    } else out += e === 't' ? '\t' : e === 'r' ? '\r' : e === 'n' ? '\n' : e === 'f' ? '\f' : e;
  }
  return out;
}

/** Parse a properties file (bytes as ISO-8859-1); later duplicates win, as in java.util.Properties. */
export function parseProperties(data: Uint8Array | string): Map<string, string> {
  const text =
    typeof data === 'string' ? data : Buffer.from(data.buffer, data.byteOffset, data.length).toString('latin1');
  const out = new Map<string, string>();
  for (const line of logicalLines(text)) {
    let keyLen = 0;
    let valueStart = line.length;
    let hasSep = false;
    let backslash = false;
    while (keyLen < line.length) {
      const c = line[keyLen] as string;
      if ((c === '=' || c === ':') && !backslash) {
        valueStart = keyLen + 1;
        hasSep = true;
        break;
      }
      if (isSpace(c) && !backslash) {
        valueStart = keyLen + 1;
        break;
      }
      backslash = c === '\\' ? !backslash : false;
      keyLen++;
    }
    while (valueStart < line.length) {
      const c = line[valueStart] as string;
      if (!isSpace(c)) {
        if (!hasSep && (c === '=' || c === ':')) hasSep = true;
        else break;
      }
      valueStart++;
    }
    out.set(loadConvert(line.slice(0, keyLen)), loadConvert(line.slice(valueStart)));
  }
  return out;
}
