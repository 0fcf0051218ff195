import { execFileSync } from 'node:child_process';
import { ROOT } from '../helpers/paths.js';

/** Build once so CLI tests run the same dist/ that users run. */
export default function setup(): void {
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
}
