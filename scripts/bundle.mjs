// Bundle the CLI into one ES module (dist/portcullis.mjs). One file loads in half the time of ~100 modules,
// and every CI job pays that start-up. Native and rarely used modules stay external and load on demand.
import { build } from 'esbuild';

// The advisory import's reader threads run their own small bundle beside the CLI (src/advisories/workers.ts).
await build({
  entryPoints: { portcullis: 'src/cli/main.ts', 'import-worker': 'src/advisories/import-worker.ts' },
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  bundle: true,
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
