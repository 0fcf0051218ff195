import { execFileSync } from 'node:child_process';
import { ROOT } from '../helpers/paths.js';

/** Build once, so CLI tests run the same bundle (dist/portcullis.mjs) that users run. Types are checked by `npm test`. */
export default function setup(): void {
  execFileSync(process.execPath, ['scripts/bundle.mjs'], { cwd: ROOT, stdio: 'inherit' });
}
