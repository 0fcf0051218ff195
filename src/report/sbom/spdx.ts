import { createHash, randomUUID } from 'node:crypto';
import type { Inventory } from '../../inventory/image.js';
import { describeUnknown, type Package } from '../../inventory/model.js';
import { TOOL } from '../../version.js';
import { classifyLicense, renameLicenses } from '../licenses.js';
import { SPDX_LIST_VERSION } from '../spdx-list.generated.js';
import { isComplete, type SbomOptions, subjectName, subjectPurl } from './common.js';

type Json = Record<string, unknown>;

/** SPDXIDs allow letters, digits, `.` and `-` only. */
function spdxId(prefix: string, text: string, used: Set<string>): string {
  const base = `SPDXRef-${prefix}-${text
    .replace(/[^A-Za-z0-9.-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 100)}`;
  let id = base;
  for (let n = 2; used.has(id); n++) id = `${base}-${n}`;
  used.add(id);
  return id;
}

/** A licence the document declares (hasExtractedLicensingInfos) for a LicenseRef- it uses. */
interface ExtractedLicense {
  readonly licenseId: string;
  readonly name: string;
  readonly extractedText: string;
}

type LicenseRefs = Map<string, ExtractedLicense>;

function declare(refs: LicenseRefs, licenseId: string, name: string, extractedText: string): string {
  if (!refs.has(licenseId)) refs.set(licenseId, { licenseId, name, extractedText });
  return licenseId;
}

/** A LicenseRef- for a free-form licence name. */
function freeForm(name: string, refs: LicenseRefs): string {
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 8);
  const id = `LicenseRef-${
    name
      .replace(/[^A-Za-z0-9.-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 60) || 'unnamed'
  }-${hash}`;
  return declare(refs, id, name, `The package declares the licence "${name}", which is not on the SPDX licence list.`);
}

/** A declared LicenseRef- for a licence of an expression that the document's licence list does not have. */
function unlisted(license: string, refs: LicenseRefs): string {
  if (license.endsWith('+')) {
    const base = license.slice(0, -1).replace(/^LicenseRef-/, '');
    const text = `The package declares ${license}: ${license.slice(0, -1)} or any later version.`;
    return declare(refs, `LicenseRef-${base.replace(/[^A-Za-z0-9.-]+/g, '-')}-or-later`, license, text);
  }
  if (/^LicenseRef-[A-Za-z0-9.-]+$/.test(license))
    return declare(refs, license, license, `The package's licence expression names ${license} without its text.`);
  if (license.includes(':')) return freeForm(license, refs);
  const text = `The package declares the SPDX licence ${license}, which is not on SPDX licence list ${SPDX_LIST_VERSION}.`;
  return declare(refs, `LicenseRef-${license}`, license, text);
}

/** A valid SPDX licence expression for the package, declaring the LicenseRef-s it uses. */
function declared(p: Package, refs: LicenseRefs): string {
  if (p.licenses.length === 0) return 'NOASSERTION';
  const parts = new Set<string>();
  for (const l of p.licenses) {
    const c = classifyLicense(l);
    if (c.kind === 'id') parts.add(c.id);
    else if (c.kind === 'name') parts.add(freeForm(c.name, refs));
    else {
      const others = new Set(c.unlisted);
      const e = renameLicenses(c.expression, (x) => (others.has(x) ? unlisted(x, refs) : x));
      parts.add(p.licenses.length > 1 && / (AND|OR) /.test(e) ? `(${e})` : e);
    }
  }
  return [...parts].join(' AND ');
}

const PURPOSE: Record<string, string> = { deb: 'LIBRARY', apk: 'LIBRARY', rpm: 'LIBRARY', golang: 'APPLICATION' };

/** SPDX 2.3 JSON (ref: spdx.github.io/spdx-spec/v2.3). */
export function toSpdx(inv: Inventory, opts: SbomOptions = {}): Json {
  const s = inv.subject;
  const used = new Set<string>();
  const licenseRefs: LicenseRefs = new Map();
  const rootId = spdxId(s.kind === 'image' ? 'Image' : 'Rootfs', subjectName(s), used);
  const rootPurl = subjectPurl(s);
  const created = (opts.timestamp ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const name = subjectName(s);
  const packages: Json[] = [
    {
      SPDXID: rootId,
      name,
      ...(s.digest ? { versionInfo: s.digest } : {}),
      downloadLocation: 'NOASSERTION',
      filesAnalyzed: false,
      licenseConcluded: 'NOASSERTION',
      licenseDeclared: 'NOASSERTION',
      copyrightText: 'NOASSERTION',
      primaryPackagePurpose: s.kind === 'image' ? 'CONTAINER' : 'FILE',
      ...(s.digest ? { checksums: [{ algorithm: 'SHA256', checksumValue: s.digest.replace(/^sha256:/, '') }] } : {}),
      ...(rootPurl
        ? {
            externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: rootPurl }],
          }
        : {}),
      ...(inv.unknowns.length
        ? {
            comment: `Incomplete inventory: ${inv.unknowns.map(describeUnknown).join('; ')}`,
          }
        : {}),
    },
  ];
  const relationships: Json[] = [
    { spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: rootId },
  ];
  if (inv.os) {
    const osId = spdxId('OperatingSystem', `${inv.os.id}-${inv.os.versionId ?? ''}`, used);
    packages.push({
      SPDXID: osId,
      name: inv.os.id,
      ...(inv.os.versionId ? { versionInfo: inv.os.versionId } : {}),
      downloadLocation: 'NOASSERTION',
      filesAnalyzed: false,
      licenseConcluded: 'NOASSERTION',
      licenseDeclared: 'NOASSERTION',
      copyrightText: 'NOASSERTION',
      primaryPackagePurpose: 'OPERATING-SYSTEM',
    });
    relationships.push({ spdxElementId: rootId, relationshipType: 'CONTAINS', relatedSpdxElement: osId });
  }
  for (const p of inv.packages) {
    const id = spdxId('Package', `${p.type}-${p.name}-${p.version}`, used);
    const layer = inv.subject.layers[p.layer];
    packages.push({
      SPDXID: id,
      name: p.name,
      versionInfo: p.version,
      downloadLocation: 'NOASSERTION',
      filesAnalyzed: false,
      licenseConcluded: 'NOASSERTION',
      licenseDeclared: declared(p, licenseRefs),
      copyrightText: 'NOASSERTION',
      primaryPackagePurpose: PURPOSE[p.type] ?? 'LIBRARY',
      ...(p.source && (p.source.name !== p.name || p.source.version !== p.version)
        ? { sourceInfo: `built from source package ${p.source.name} ${p.source.version}` }
        : {}),
      externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: p.purl }],
      attributionTexts: [
        `layer ${p.layer}${layer?.diffId ? ` (diff_id ${layer.diffId})` : ''}; found by ${p.foundBy} at ${p.locations.map((l) => `/${l.path}`).join(', ')}`,
      ],
    });
    relationships.push({ spdxElementId: rootId, relationshipType: 'CONTAINS', relatedSpdxElement: id });
  }
  const uuid = opts.uuid ?? randomUUID();
  return {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name,
    documentNamespace: `https://portcullis.invalid/spdx/${encodeURIComponent(name.replace(/[^A-Za-z0-9._/-]+/g, '-'))}-${uuid}`,
    creationInfo: {
      created,
      creators: [`Tool: ${TOOL.name}-${TOOL.version}`],
      // SPDX 2.3 wants M.N; licences not on this list are declared as LicenseRef-s.
      licenseListVersion: SPDX_LIST_VERSION.split('.').slice(0, 2).join('.'),
      ...(isComplete(inv) ? {} : { comment: 'The inventory is incomplete; see the subject package comment.' }),
    },
    packages,
    relationships,
    ...(licenseRefs.size ? { hasExtractedLicensingInfos: [...licenseRefs.values()] } : {}),
  };
}
