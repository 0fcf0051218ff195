import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LineCounter, parseAllDocuments } from 'yaml';

/*
 * Figure 12's floor, a node process of its own like the CLI it is measured against: read each listed file and parse
 * it with the `yaml` library's parseAllDocuments and the settings `k8s audit` parses with (src/k8s/load.ts: YAML 1.1,
 * strict, unique keys, a line counter for positions), then toJS with the same alias bound, which is what any reader of
 * the values needs. It counts the objects (List items expanded) and writes the count to OUT.
 *
 * argv: ROOT LIST OUT (LIST: a file of paths relative to ROOT, one a line)
 */

const [root, list, out] = process.argv.slice(2) as [string, string, string];
let objects = 0;
let errors = 0;
for (const file of readFileSync(list, 'utf8').split('\n')) {
  if (!file) continue;
  const text = readFileSync(join(root, file), 'utf8');
  const docs = parseAllDocuments(text, {
    lineCounter: new LineCounter(),
    prettyErrors: false,
    version: '1.1',
    strict: true,
    uniqueKeys: true,
  });
  for (const doc of Array.isArray(docs) ? docs : []) {
    if (doc.errors.length > 0) {
      errors++;
      process.stderr.write(`${file}: ${doc.errors[0]?.message.split('\n')[0]}\n`);
      continue;
    }
    const v = doc.toJS({ maxAliasCount: 1000 }) as { kind?: string; items?: unknown[] } | null;
    if (v && typeof v.kind === 'string' && v.kind.endsWith('List') && Array.isArray(v.items)) objects += v.items.length;
    else if (v) objects++;
  }
}
writeFileSync(out, JSON.stringify({ objects, errors }));
if (errors > 0) process.exitCode = 1;
