import type { Manifest } from './manifest.js';
import type { PomXml } from './pomxml.js';

/**
 * From what an archive holds to Maven coordinates. Every `META-INF/maven/<group>/<artifact>/pom.properties`
 * (or a pom.xml with no pom.properties beside it) names one package (a shaded jar holds several); an archive
 * whose poms are not its own (or that has none) is also named by its manifest and file name. The manifest's
 * licence and vendor belong to the archive's own package only: see identify().
 */

/** The coordinates one pom.properties (or pom.xml) gives, with the entry it was read from. */
export interface PomProperties {
  readonly entry: string;
  readonly groupId: string | undefined;
  readonly artifactId: string | undefined;
  readonly version: string | undefined;
}

/** What identifies one archive, outer or nested. */
export interface ArchiveFacts {
  /** `app.jar`, or `app.jar!/BOOT-INF/lib/x.jar` for a nested archive. */
  readonly path: string;
  readonly depth: number;
  readonly manifest: Manifest | undefined;
  readonly poms: readonly PomProperties[];
}

/** One Maven package found in an archive. */
export interface MavenCoordinates {
  readonly groupId: string | undefined;
  readonly artifactId: string;
  readonly version: string;
  readonly licenses: readonly string[];
  /** The archive, as in ArchiveFacts.path. */
  readonly path: string;
  readonly source: 'pom.properties' | 'pom.xml' | 'manifest';
  /** The pom.properties or pom.xml entry, for packages named by one. */
  readonly pomEntry?: string;
  /** Implementation-Vendor or Bundle-Vendor, when the manifest gives one. */
  readonly vendor?: string;
}

const POM_ENTRY = /^META-INF\/maven\/([^/]+)\/([^/]+)\/pom\.properties$/;
const POM_XML_ENTRY = /^META-INF\/maven\/([^/]+)\/([^/]+)\/pom\.xml$/;
const ARCHIVE_EXT = /\.(?:jar|war|ear|jpi|hpi)$/i;
const DOTTED_ID = /^[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)+$/;
const TOKEN = /^[A-Za-z0-9_][\w.+-]*$/;

/** Group and artifact from the path of a pom.properties entry, or undefined when it is not one. */
export function pomEntryCoordinates(entry: string): { groupId: string; artifactId: string } | undefined {
  const m = POM_ENTRY.exec(entry);
  return m ? { groupId: m[1] as string, artifactId: m[2] as string } : undefined;
}

/** Group and artifact from the path of a pom.xml entry, or undefined when it is not one. */
export function pomXmlEntryCoordinates(entry: string): { groupId: string; artifactId: string } | undefined {
  const m = POM_XML_ENTRY.exec(entry);
  return m ? { groupId: m[1] as string, artifactId: m[2] as string } : undefined;
}

/**
 * Coordinates of one pom.xml: the project's, the group and version inherited from its parent when it states
 * none, and the folder names it sits in.
 */
export function pomXmlProperties(entry: string, pom: PomXml): PomProperties {
  const fromPath = pomXmlEntryCoordinates(entry);
  const stated = (f: 'groupId' | 'version'): boolean => pom.unresolved?.includes(f) === true;
  return {
    entry,
    groupId: pom.groupId ?? (stated('groupId') ? fromPath?.groupId : (pom.parentGroupId ?? fromPath?.groupId)),
    artifactId: pom.artifactId ?? fromPath?.artifactId,
    // An own version stated as ${revision} is not the parent's: unknown, so the manifest or file name speaks.
    version: pom.version ?? (stated('version') ? undefined : pom.parentVersion),
  };
}

/** Coordinates of one pom.properties: its keys, falling back to the folder names it sits in. */
export function pomProperties(entry: string, props: ReadonlyMap<string, string>): PomProperties {
  const fromPath = pomEntryCoordinates(entry);
  const get = (k: string): string | undefined => {
    const v = props.get(k)?.trim();
    return v ? v : undefined;
  };
  return {
    entry,
    groupId: get('groupId') ?? fromPath?.groupId,
    artifactId: get('artifactId') ?? fromPath?.artifactId,
    version: get('version'),
  };
}

/**
 * Name and version from an archive's file name, `artifact-1.2.3.jar` style: the version starts at the first
 * `-` followed by a digit (`log4j-core-2.14.1` gives `log4j-core` and `2.14.1`).
 */
export function fileNameParts(path: string): { name: string; version: string | undefined } {
  const base = path.slice(path.lastIndexOf('/') + 1).replace(ARCHIVE_EXT, '');
  const m = /^(.+?)-(\d[^/]*)$/.exec(base);
  return m ? { name: m[1] as string, version: m[2] as string } : { name: base, version: undefined };
}

/**
 * Licence names of an OSGi `Bundle-License` header (ref: OSGi Core, 3.2.1.10): comma-separated entries, each
 * a name (an SPDX id, a name, or a URL) with optional `;attr=value` parts; `<<EXTERNAL>>` is dropped.
 */
export function parseBundleLicense(value: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  const add = (): void => {
    let name = '';
    let q = false;
    for (const c of cur) {
      if (c === '"') q = !q;
      else if (c === ';' && !q) break;
      else name += c;
    }
    name = name.trim();
    if (name && name !== '<<EXTERNAL>>' && !out.includes(name)) out.push(name);
    cur = '';
  };
  for (const c of value) {
    if (c === '"') quoted = !quoted;
    if (c === ',' && !quoted) add();
    else cur += c;
  }
  add();
  return out;
}

/** The Bundle-SymbolicName without its directives (`org.foo.bar;singleton:=true`). */
function symbolicName(m: Manifest): string | undefined {
  const v = m.get('bundle-symbolicname')?.split(';')[0]?.trim();
  return v ? v : undefined;
}

/**
 * A Maven group for a manifest-named package, only where the manifest says it: Jenkins' `Group-Id`;
 * `Implementation-Vendor-Id` when Maven wrote the manifest (maven-archiver put the groupId there, while Ant
 * builds put a vendor id such as `com.sun`); or a symbolic or module name that reads `<group>.<artifact>`.
 */
export function groupFromManifest(m: Manifest, artifact: string): string | undefined {
  const jenkins = m.get('group-id')?.trim();
  if (jenkins && DOTTED_ID.test(jenkins)) return jenkins;
  const byMaven = /maven/i.test(m.get('created-by') ?? '') || m.has('archiver-version');
  const vendorId = m.get('implementation-vendor-id')?.trim();
  if (byMaven && vendorId && DOTTED_ID.test(vendorId)) return vendorId;
  for (const id of [symbolicName(m), m.get('automatic-module-name')?.trim()]) {
    if (id?.endsWith(`.${artifact}`)) {
      const group = id.slice(0, -artifact.length - 1);
      if (DOTTED_ID.test(group)) return group;
    }
  }
  return undefined;
}

/**
 * Maven groups of artifacts whose own builds put no Maven metadata in the jar: Spring's projects built with Gradle
 * (Spring Framework, Boot, Security, Integration, ...) write a manifest with only Implementation-Title and
 * -Version and an Automatic-Module-Name (`spring.beans`) that does not give the group, and Spring Boot applications
 * bundle those jars. Without a group the package is looked up as `spring-beans:spring-beans` and its advisories,
 * filed under `org.springframework:spring-beans`, are missed. Public Maven Central coordinates, written out here;
 * only families whose names are their own (third parties publish `spring-*` artifacts too, so `spring-*` as a whole
 * is not one). Exact artifactIds first, then the longest family prefix (`spring-boot`, `spring-boot-*`); a family
 * member mapped to undefined is known to belong to someone else, or to have changed group between versions.
 */
const KNOWN_ARTIFACT_GROUPS: Readonly<Record<string, string>> = {
  // Spring Framework: the one jar of 2.x, then its modules (3.x to 6.x).
  spring: 'org.springframework',
  ...Object.fromEntries(
    [
      'aop',
      'asm',
      'aspects',
      'beans',
      'context',
      'context-indexer',
      'context-support',
      'core',
      'expression',
      'instrument',
      'instrument-tomcat',
      'jcl',
      'jdbc',
      'jms',
      'messaging',
      'orm',
      'oxm',
      'r2dbc',
      'struts',
      'test',
      'tx',
      'web',
      'webflux',
      'webmvc',
      'webmvc-portlet',
      'websocket',
    ].map((m) => [`spring-${m}`, 'org.springframework']),
  ),
  // Spring Data's own modules (community ones such as spring-data-aerospike have other groups).
  ...Object.fromEntries(
    [
      'cassandra',
      'commons',
      'couchbase',
      'elasticsearch',
      'envers',
      'gemfire',
      'geode',
      'jdbc',
      'jpa',
      'keyvalue',
      'ldap',
      'mongodb',
      'neo4j',
      'r2dbc',
      'redis',
      'relational',
      'rest-core',
      'rest-hal-explorer',
      'rest-webmvc',
      'solr',
    ].map((m) => [`spring-data-${m}`, 'org.springframework.data']),
  ),
  'spring-batch-core': 'org.springframework.batch',
  'spring-batch-infrastructure': 'org.springframework.batch',
  'spring-batch-integration': 'org.springframework.batch',
  'spring-batch-test': 'org.springframework.batch',
  'spring-amqp': 'org.springframework.amqp',
  'spring-rabbit': 'org.springframework.amqp',
  'spring-rabbit-stream': 'org.springframework.amqp',
  'spring-rabbit-test': 'org.springframework.amqp',
  'spring-kafka': 'org.springframework.kafka',
  'spring-kafka-test': 'org.springframework.kafka',
  'spring-graphql': 'org.springframework.graphql',
  'spring-graphql-test': 'org.springframework.graphql',
  'spring-hateoas': 'org.springframework.hateoas',
  'spring-retry': 'org.springframework.retry',
  'spring-webflow': 'org.springframework.webflow',
  'spring-binding': 'org.springframework.webflow',
  'spring-js': 'org.springframework.webflow',
  'spring-js-resources': 'org.springframework.webflow',
  'spring-faces': 'org.springframework.webflow',
  'spring-xml': 'org.springframework.ws',
  'spring-plugin-core': 'org.springframework.plugin',
  'spring-plugin-metadata': 'org.springframework.plugin',
  // The legacy OAuth projects, not Spring Security's own spring-security-oauth2-core and -client.
  'spring-security-oauth': 'org.springframework.security.oauth',
  'spring-security-oauth2': 'org.springframework.security.oauth',
  'spring-security-oauth2-autoconfigure': 'org.springframework.security.oauth.boot',
  'spring-security-saml2-core': 'org.springframework.security.extensions',
};

const KNOWN_FAMILY_GROUPS: Readonly<Record<string, string | undefined>> = {
  'spring-boot': 'org.springframework.boot',
  'spring-boot-admin': undefined, // de.codecentric
  'spring-security': 'org.springframework.security',
  'spring-security-kerberos': 'org.springframework.security.kerberos',
  'spring-integration': 'org.springframework.integration',
  'spring-cloud': 'org.springframework.cloud',
  // Moved out of org.springframework.cloud (com.alibaba.cloud, com.google.cloud, io.awspring.cloud) or never in it.
  'spring-cloud-alibaba': undefined,
  'spring-cloud-starter-alibaba': undefined,
  'spring-cloud-gcp': undefined,
  'spring-cloud-starter-gcp': undefined,
  'spring-cloud-aws': undefined,
  'spring-cloud-starter-aws': undefined,
  'spring-cloud-azure': undefined,
  'spring-cloud-starter-azure': undefined,
  'spring-ws': 'org.springframework.ws',
  'spring-session': 'org.springframework.session',
  'spring-ldap': 'org.springframework.ldap',
  'spring-vault': 'org.springframework.vault',
  'spring-shell': 'org.springframework.shell',
  'spring-statemachine': 'org.springframework.statemachine',
  'spring-restdocs': 'org.springframework.restdocs',
};

/** The Maven group of a well-known artifact built without Maven metadata (KNOWN_ARTIFACT_GROUPS), if any. */
export function knownGroup(artifact: string): string | undefined {
  if (Object.hasOwn(KNOWN_ARTIFACT_GROUPS, artifact)) return KNOWN_ARTIFACT_GROUPS[artifact];
  // The longest family the name is, or starts with followed by '-'.
  for (let end = artifact.length; end > 0; end = artifact.lastIndexOf('-', end - 1)) {
    const family = artifact.slice(0, end);
    if (Object.hasOwn(KNOWN_FAMILY_GROUPS, family)) return KNOWN_FAMILY_GROUPS[family];
  }
  return undefined;
}

function manifestLicenses(m: Manifest | undefined): string[] {
  const v = m?.get('bundle-license');
  return v ? parseBundleLicense(v) : [];
}

function vendorOf(m: Manifest | undefined): { vendor?: string } {
  const v = (m?.get('implementation-vendor') ?? m?.get('bundle-vendor'))?.trim();
  return v ? { vendor: v } : {};
}

/**
 * The name and version an archive's manifest and file name give it, if they give both; `bare` when the name is
 * only the file name without a version (`app.jar`), which says little about which package the archive is.
 */
function manifestName(facts: ArchiveFacts): { artifactId: string; version: string; bare: boolean } | undefined {
  const m = facts.manifest ?? new Map<string, string>();
  const file = fileNameParts(facts.path);
  const title = m.get('implementation-title')?.trim();
  // A versioned file name is the strongest hint of an artifactId; otherwise the manifest's own names.
  const named =
    (file.version ? file.name : undefined) ??
    m.get('short-name')?.trim() ??
    (title && TOKEN.test(title) ? title : undefined) ??
    symbolicName(m) ??
    m.get('automatic-module-name')?.trim();
  const artifactId = named ?? file.name;
  const version =
    m.get('implementation-version')?.trim() ||
    m.get('plugin-version')?.trim() ||
    file.version ||
    m.get('bundle-version')?.trim();
  if (!artifactId || !version) return undefined;
  return { artifactId, version, bare: !named };
}

/** The package an archive's manifest and file name name, with the manifest's licence and vendor. */
function fromManifest(facts: ArchiveFacts, name: { artifactId: string; version: string }): MavenCoordinates {
  const m = facts.manifest ?? new Map<string, string>();
  return {
    groupId: groupFromManifest(m, name.artifactId) ?? knownGroup(name.artifactId),
    artifactId: name.artifactId,
    version: name.version,
    licenses: manifestLicenses(facts.manifest),
    path: facts.path,
    source: 'manifest',
    ...vendorOf(facts.manifest),
  };
}

/**
 * Whether a name from the manifest names this pom's artifact: as it is, or as an OSGi symbolic name does
 * (`com.fasterxml.jackson.core.jackson-databind` for jackson-databind).
 */
function namesPom(name: string, p: { groupId?: string | undefined; artifactId: string }): boolean {
  return name === p.artifactId || name === `${p.groupId}.${p.artifactId}` || name.endsWith(`.${p.artifactId}`);
}

/** Versions equal, or equal once OSGi's `.` before a qualifier is read as Maven's `-` (2.15.2.SNAPSHOT, 2.15.2-SNAPSHOT). */
function sameVersion(a: string, b: string): boolean {
  const osgi = (v: string): string => v.replace(/[.-](?=[A-Za-z])/g, '-');
  return a === b || osgi(a) === osgi(b);
}

/**
 * The Maven packages an archive holds: one per pom.properties, and the archive's own, named by its manifest and
 * file name, when none of them is it.
 */
export function identify(facts: ArchiveFacts): MavenCoordinates[] {
  // A pom.xml names a package only where no pom.properties sits beside it: Maven writes both, and its
  // pom.properties has the version resolved, while the pom.xml may say `${revision}`.
  const dir = (entry: string): string => entry.slice(0, entry.lastIndexOf('/'));
  const withProperties = new Set(facts.poms.filter((p) => pomEntryCoordinates(p.entry)).map((p) => dir(p.entry)));
  const poms = facts.poms.filter(
    (p): p is PomProperties & { artifactId: string; version: string } =>
      !!p.artifactId && !!p.version && (!!pomEntryCoordinates(p.entry) || !withProperties.has(dir(p.entry))),
  );
  const self = manifestName(facts);
  if (poms.length === 0) return self ? [fromManifest(facts, self)] : [];
  // The archive's own pom is the one with its file name, or the one its manifest (and versioned file name)
  // names, by artifactId or else by version alone if only one has it. A lone pom is the archive's own unless
  // they name something else: a shaded jar whose build wrote no pom of its own (mylib-2.3.4.jar holding only
  // jackson-core's) is mylib, and the dependency gets neither its licence nor its vendor.
  const file = fileNameParts(facts.path).name;
  const byVersion = self ? poms.filter((p) => sameVersion(p.version, self.version)) : [];
  const own =
    poms.find((p) => p.artifactId === file) ??
    (self && poms.find((p) => namesPom(self.artifactId, p))) ??
    (byVersion.length === 1 ? byVersion[0] : undefined) ??
    (poms.length === 1 && (!self || self.bare) ? poms[0] : undefined);
  const out: MavenCoordinates[] = own || !self ? [] : [fromManifest(facts, self)];
  const seen = new Set<string>();
  for (const p of poms) {
    const key = `${p.groupId}:${p.artifactId}:${p.version}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({
      groupId: p.groupId,
      artifactId: p.artifactId,
      version: p.version,
      licenses: p === own ? manifestLicenses(facts.manifest) : [],
      path: facts.path,
      source: pomEntryCoordinates(p.entry) ? 'pom.properties' : 'pom.xml',
      pomEntry: p.entry,
      ...(p === own ? vendorOf(facts.manifest) : {}),
    });
  }
  return out;
}
