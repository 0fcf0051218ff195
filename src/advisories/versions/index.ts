import type { SchemeChooser } from '../match.js';
import { apkScheme } from './apk.js';
import { dpkgScheme } from './dpkg.js';
import { genericScheme } from './generic.js';
import { goScheme } from './go.js';
import { mavenScheme } from './maven.js';
import { nugetScheme } from './nuget.js';
import { pep440Scheme } from './pep440.js';
import { rpmScheme } from './rpm.js';
import { rubygemsScheme } from './rubygems.js';
import type { VersionScheme } from './scheme.js';
import { semverScheme } from './semver.js';

/** Every version scheme, by the name users write (`portcullis version compare --scheme NAME`). */
export const SCHEMES: ReadonlyMap<string, VersionScheme> = new Map(
  [
    dpkgScheme,
    apkScheme,
    rpmScheme,
    semverScheme,
    pep440Scheme,
    mavenScheme,
    goScheme,
    rubygemsScheme,
    nugetScheme,
    genericScheme,
  ].map((s) => [s.name, s]),
);

/** OSV ecosystems (the part before ':') and the scheme that orders their versions. */
const BY_ECOSYSTEM: Readonly<Record<string, VersionScheme>> = {
  Debian: dpkgScheme,
  Ubuntu: dpkgScheme,
  Alpine: apkScheme,
  'Red Hat': rpmScheme,
  AlmaLinux: rpmScheme,
  'Rocky Linux': rpmScheme,
  npm: semverScheme,
  PyPI: pep440Scheme,
  Go: goScheme,
  Maven: mavenScheme,
  RubyGems: rubygemsScheme,
  NuGet: nugetScheme,
  'crates.io': semverScheme,
  Packagist: genericScheme,
};

/** Whether an OSV ecosystem (`Debian:12`, `npm`) has a version scheme here, so that its advisories can match. */
export function knownEcosystem(ecosystem: string): boolean {
  const colon = ecosystem.indexOf(':');
  return Object.hasOwn(BY_ECOSYSTEM, colon < 0 ? ecosystem : ecosystem.slice(0, colon));
}

/** The OSV ecosystem names that `findScheme` reads as aliases, in the catalogue's order. */
export const ECOSYSTEM_NAMES: readonly string[] = Object.keys(BY_ECOSYSTEM);

const BY_LOWER_NAME: ReadonlyMap<string, VersionScheme> = new Map(
  [...SCHEMES, ...Object.entries(BY_ECOSYSTEM)].map(([name, s]) => [name.toLowerCase(), s]),
);
const BY_LOWER_ECOSYSTEM: ReadonlyMap<string, VersionScheme> = new Map(
  Object.entries(BY_ECOSYSTEM).map(([name, s]) => [name.toLowerCase(), s]),
);

/**
 * The scheme a user named: a scheme name (`dpkg`) or an OSV ecosystem (`Debian`, `PyPI`, `Debian:12`), in any case.
 * Unlike `SCHEME_CHOOSER`, an unknown name gives undefined rather than the generic fallback.
 */
export function findScheme(name: string): VersionScheme | undefined {
  const key = name.toLowerCase();
  const colon = key.indexOf(':');
  return BY_LOWER_NAME.get(key) ?? (colon > 0 ? BY_LOWER_ECOSYSTEM.get(key.slice(0, colon)) : undefined);
}

/** The matcher's view: an ecosystem's own scheme, and Go's for SEMVER-typed ranges of Go advisories. */
export const SCHEME_CHOOSER: SchemeChooser = {
  forEcosystem: (ecosystem) => BY_ECOSYSTEM[ecosystem.split(':')[0] ?? ecosystem] ?? genericScheme,
  // OSV SEMVER ranges are SemVer 2.0 without a "v"; Go's scheme reads both forms, the npm one the rest.
  semver: (ecosystem) => (ecosystem === 'Go' ? goScheme : semverScheme),
};
