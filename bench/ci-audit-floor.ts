import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';

/*
 * Figure 10's floor, a node process of its own like the CLI it is measured against: read each listed file, decode it
 * as UTF-8 and parse it with the `yaml` library's parseDocument and the settings `ci audit` parses with
 * (src/policy/yaml.ts: core schema, strict, unique keys, a line counter for positions), then toJS with the same alias
 * bound, which is what any reader of the values needs. It writes the count of documents to OUT and fails on any
 * parse error (every generated file must parse, on both sides).
 *
 * argv: ROOT LIST OUT (LIST: a file of paths relative to ROOT, one a line)
 */

const [root, list, out] = process.argv.slice(2) as [string, string, string];
const utf8 = new TextDecoder('utf-8', { fatal: true });
let docs = 0;
let errors = 0;
for (const file of readFileSync(list, 'utf8').split('\n')) {
  if (!file) continue;
  const text = utf8.decode(readFileSync(join(root, file)));
  const doc = parseDocument(text, {
    lineCounter: new LineCounter(),
    prettyErrors: false,
    schema: 'core',
    strict: true,
    uniqueKeys: true,
  });
  if (doc.errors.length > 0) {
    errors++;
    process.stderr.write(`${file}: ${doc.errors[0]?.message.split('\n')[0]}\n`);
  } else doc.toJS({ maxAliasCount: 100 });
  docs++;
}
writeFileSync(out, JSON.stringify({ docs, errors }));
if (errors > 0) process.exitCode = 1;
