/**
 * Package-name normalisation per ecosystem, applied to advisories and to inventories alike, so a lookup
 * by (ecosystem, name) finds what the ecosystem considers the same package.
 */
export function normalizePackageName(ecosystem: string, name: string): string {
  const base = ecosystem.split(':')[0] ?? ecosystem;
  switch (base) {
    case 'PyPI':
      // ref: PEP 503 normalized names
      return name.toLowerCase().replace(/[-_.]+/g, '-');
    case 'npm':
    case 'crates.io':
    case 'RubyGems':
      return name;
    case 'NuGet':
    case 'Packagist':
      return name.toLowerCase();
    default:
      return name;
  }
}
