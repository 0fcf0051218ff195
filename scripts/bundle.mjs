// Bundle the CLI (dist/portcullis.mjs) into a few ES modules: a bundle loads in half the time of ~100 source modules,
// and split along the commands, a run compiles only the code of the command it runs; every CI job pays that
// start-up. Native and rarely used modules stay external and load on demand.
import { build } from 'esbuild';

// The advisory import's reader threads run their own small bundle beside the CLI (src/advisories/workers.ts).
await build({
  entryPoints: { portcullis: 'src/cli/main.ts', 'import-worker': 'src/advisories/import-worker.ts' },
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  // Shared code in chunks beside the entries (in dist/ itself: modules find files relative to their own URL): the
  // CLI loads the command it runs (src/cli/main.ts) and what that uses.
  splitting: true,
  chunkNames: 'chunk-[hash]',
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  external: ['better-sqlite3', 'zstd-napi', 'yaml', 'ajv', '@kubernetes/client-node'],
  // CommonJS dependencies bundled into an ES module still call require().
  banner: {
    js: "import { createRequire as __portcullisRequire } from 'node:module';\nconst require = __portcullisRequire(import.meta.url);",
  },
  logLevel: 'warning',
});

// Config-file validators, compiled by Ajv here instead of in every run (the policy schema costs ~80 ms to compile).
// Each carries the fingerprint src/policy/schema.ts computes from the schema and the options; a run whose schema or
// options differ compiles its own, so a stale file is never used.
const { createHash } = await import('node:crypto');
const { mkdirSync, readdirSync, readFileSync, writeFileSync } = await import('node:fs');
const { Ajv } = await import('ajv');
const { default: standaloneCode } = await import('ajv/dist/standalone/index.js');
// Keep in step with AJV_OPTIONS in src/policy/schema.ts (the fingerprint holds them to it).
const AJV_OPTIONS = { allErrors: true, verbose: true, strict: true, strictRequired: false };
mkdirSync('dist/validators', { recursive: true });
for (const name of readdirSync('schemas').filter((f) => f.endsWith('.schema.json'))) {
  const schema = JSON.parse(readFileSync(`schemas/${name}`, 'utf8'));
  const fingerprint = createHash('sha256')
    .update(JSON.stringify({ options: AJV_OPTIONS, schema }))
    .digest('hex');
  const ajv = new Ajv({ ...AJV_OPTIONS, code: { source: true } });
  const code = standaloneCode(ajv, ajv.compile(schema));
  writeFileSync(
    `dist/validators/${name.replace(/\.json$/, '.cjs')}`,
    `${code}\nmodule.exports.fingerprint = ${JSON.stringify(fingerprint)};\n`,
  );
}
