/**
 * The coordinates a `META-INF/maven/<group>/<artifact>/pom.xml` states, for archives that hold one without a
 * pom.properties beside it (Micronaut's Gradle build writes only the pom.xml). Not an XML parser: a small
 * reader of elements, comments, CDATA and processing instructions that keeps the text of `project/groupId`,
 * `project/artifactId`, `project/version` and their `project/parent/...` fallbacks. It is linear in its
 * input (which the archive reader bounds), expands no entities but the five predefined ones and character
 * references, and gives up on a DOCTYPE (the only place entities can be declared) or malformed markup.
 */

export interface PomXml {
  readonly groupId?: string;
  readonly artifactId?: string;
  readonly version?: string;
  readonly parentGroupId?: string;
  readonly parentVersion?: string;
  /** Fields the pom states but not plainly (`${revision}`): they are unknown, and no parent's value stands in. */
  readonly unresolved?: readonly CoordinateField[];
}

type CoordinateField = 'groupId' | 'artifactId' | 'version' | 'parentGroupId' | 'parentVersion';

const WANTED: Readonly<Record<string, CoordinateField>> = {
  'project/groupId': 'groupId',
  'project/artifactId': 'artifactId',
  'project/version': 'version',
  'project/parent/groupId': 'parentGroupId',
  'project/parent/version': 'parentVersion',
};

const decoder = new TextDecoder('utf-8');
const PREDEFINED: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
const NAME = /^[^\s/>]+/;
/** A coordinate as a value, not an unresolved `${property}` or text with spaces. */
const VALUE = /^[^\s${}<>&]+$/;

/** Character data with its references replaced; undefined when it uses an entity no DOCTYPE may declare here. */
function decode(text: string): string | undefined {
  let bad = false;
  const out = text.replace(/&(#x[0-9A-Fa-f]{1,6}|#[0-9]{1,7}|[A-Za-z][\w.-]*);?/g, (ref, name: string) => {
    if (!ref.endsWith(';')) bad = true;
    else if (name.startsWith('#')) {
      const cp = name[1] === 'x' ? Number.parseInt(name.slice(2), 16) : Number.parseInt(name.slice(1), 10);
      if (cp > 0 && cp <= 0x10ffff) return String.fromCodePoint(cp);
      bad = true;
    } else if (Object.hasOwn(PREDEFINED, name)) return PREDEFINED[name] as string;
    else bad = true;
    return '';
  });
  return bad || out.includes('&') ? undefined : out;
}

/** The local name of a possibly prefixed element name (`pom:version`). */
const local = (name: string): string => name.slice(name.indexOf(':') + 1);

/** Coordinates from a pom.xml; fields it does not state plainly are left out, and nothing for a malformed one. */
export function parsePomXml(data: Uint8Array): PomXml {
  let text = decoder.decode(data);
  if (text.startsWith('\uFEFF')) text = text.slice(1);
  const out: { -readonly [K in CoordinateField]?: string } = {};
  const unresolved: CoordinateField[] = [];
  const stack: string[] = [];
  let chars: string[] | undefined; // the text of the element being kept, while inside it
  let i = 0;
  while (i < text.length) {
    const lt = text.indexOf('<', i);
    const end = lt < 0 ? text.length : lt;
    if (chars && end > i) chars.push(text.slice(i, end));
    if (lt < 0) break;
    if (text.startsWith('<!--', lt)) {
      const close = text.indexOf('-->', lt + 4);
      if (close < 0) return {};
      i = close + 3;
    } else if (text.startsWith('<![CDATA[', lt)) {
      const close = text.indexOf(']]>', lt + 9);
      if (close < 0) return {};
      // CDATA is literal: escaped so that decode() gives it back as it is.
      chars?.push(text.slice(lt + 9, close).replaceAll('&', '&amp;'));
      i = close + 3;
    } else if (text.startsWith('<?', lt)) {
      const close = text.indexOf('?>', lt + 2);
      if (close < 0) return {};
      i = close + 2;
    } else if (text[lt + 1] === '!') {
      return {}; // a DOCTYPE: no entity declarations are honoured, so none are read
    } else if (text[lt + 1] === '/') {
      const close = text.indexOf('>', lt + 2);
      if (close < 0) return {};
      const name = text.slice(lt + 2, close).trim();
      if (stack.pop() !== name) return {};
      // A wanted element closing: its text is a value when plain (and with no child element inside, which
      // cleared `chars`), else the field is stated but unknown.
      const key = stack.length < 3 ? WANTED[[...stack, name].map(local).join('/')] : undefined;
      if (key !== undefined && out[key] === undefined) {
        const value = chars ? decode(chars.join(''))?.trim() : undefined;
        if (value && VALUE.test(value)) out[key] = value;
        else if (!unresolved.includes(key)) unresolved.push(key);
      }
      chars = undefined;
      i = close + 1;
    } else {
      // A start tag: its end is the first '>' outside a quoted attribute value.
      let j = lt + 1;
      let quote = '';
      for (; j < text.length; j++) {
        const c = text[j];
        if (quote) {
          if (c === quote) quote = '';
        } else if (c === '"' || c === "'") quote = c;
        else if (c === '>') break;
      }
      if (j >= text.length) return {};
      const name = NAME.exec(text.slice(lt + 1, Math.min(j, lt + 1 + 200)))?.[0];
      if (!name || (stack.length === 0 && local(name) !== 'project')) return {};
      if (text[j - 1] !== '/') {
        stack.push(name);
        // Only a wanted element's text is kept (they are at most three deep, so the path is short); a child
        // element inside it makes it not a value.
        chars = stack.length <= 3 && Object.hasOwn(WANTED, stack.map(local).join('/')) ? [] : undefined;
      } else chars = undefined;
      i = j + 1;
    }
  }
  if (stack.length !== 0) return {};
  return unresolved.length ? { ...out, unresolved } : out;
}
