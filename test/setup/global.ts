import { spawnSync } from 'node:child_process';
import { ROOT } from '../helpers/paths.js';

/**
 * Build once so CLI tests run the same dist/ that users run. Type errors are the typecheck step's
 * business (`npm test` runs it first); tsc still emits, so only a failure to run at all stops the tests.
 */
export default function setup(): void {
  const r = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0 && r.status !== 2) throw new Error(`build failed (tsc exit ${r.status})`);
}
