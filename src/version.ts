import { readFileSync } from 'node:fs';

/** The tool's own name and version, read once from package.json. */
export const TOOL = (() => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    name: string;
    version: string;
  };
  return { name: pkg.name, version: pkg.version };
})();
