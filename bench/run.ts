import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './env.js';

/*
 * `npm run bench` entry. Before anything from src/ loads: src/version.ts reads ../package.json next to
 * itself, so the compiled tree (dist-bench/src) gets a copy; and a nested biome config keeps `biome check .`
 * from linting the compiled output, which biome.json does not exclude.
 */
const out = join(ROOT, 'dist-bench');
copyFileSync(join(ROOT, 'package.json'), join(out, 'package.json'));
const quiet = { enabled: false };
writeFileSync(
  join(out, 'biome.json'),
  `${JSON.stringify({ root: false, extends: '//', formatter: quiet, linter: quiet, assist: quiet })}\n`,
);
await import('./main.js');
