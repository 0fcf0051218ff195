import { readFileSync } from 'node:fs';

/** The tool's own name, version and home page (when package.json names one), read once from package.json. */
export const TOOL: { readonly name: string; readonly version: string; readonly homepage?: string } = (() => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    name: string;
    version: string;
    homepage?: unknown;
  };
  return {
    name: pkg.name,
    version: pkg.version,
    ...(typeof pkg.homepage === 'string' ? { homepage: pkg.homepage } : {}),
  };
})();
