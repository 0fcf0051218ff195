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

/** The matcher's view: an ecosystem's own scheme, and Go's for SEMVER-typed ranges of Go advisories. */
export const SCHEME_CHOOSER: SchemeChooser = {
  forEcosystem: (ecosystem) => BY_ECOSYSTEM[ecosystem.split(':')[0] ?? ecosystem] ?? genericScheme,
  // OSV SEMVER ranges are SemVer 2.0 without a "v"; Go's scheme reads both forms, the npm one the rest.
  semver: (ecosystem) => (ecosystem === 'Go' ? goScheme : semverScheme),
};
