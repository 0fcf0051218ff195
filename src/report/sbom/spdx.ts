import { createHash, randomUUID } from 'node:crypto';
import type { Inventory } from '../../inventory/image.js';
import { describeUnknown, type Package } from '../../inventory/model.js';
import { TOOL } from '../../version.js';
import { classifyLicense } from '../licenses.js';
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

/** A valid SPDX licence expression for the package, registering LicenseRefs for free-form names. */
function declared(p: Package, refs: Map<string, string>): string {
  if (p.licenses.length === 0) return 'NOASSERTION';
  const parts = new Set<string>();
  for (const l of p.licenses) {
    const c = classifyLicense(l);
    if (c.kind === 'id') parts.add(c.id);
    else if (c.kind === 'expression') parts.add(p.licenses.length > 1 ? `(${c.expression})` : c.expression);
    else {
      let ref = refs.get(c.name);
      if (!ref) {
        const hash = createHash('sha256').update(c.name).digest('hex').slice(0, 8);
        ref = `LicenseRef-${
          c.name
            .replace(/[^A-Za-z0-9.-]+/g, '-')
            .replace(/^-+|-+$/g, '')
            .slice(0, 60) || 'unnamed'
        }-${hash}`;
        refs.set(c.name, ref);
      }
      parts.add(ref);
    }
  }
  return [...parts].join(' AND ');
}

const PURPOSE: Record<string, string> = { deb: 'LIBRARY', apk: 'LIBRARY', rpm: 'LIBRARY', golang: 'APPLICATION' };

/** SPDX 2.3 JSON (ref: spdx.github.io/spdx-spec/v2.3). */
export function toSpdx(inv: Inventory, opts: SbomOptions = {}): Json {
  const s = inv.subject;
  const used = new Set<string>();
  const licenseRefs = new Map<string, string>();
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
      ...(isComplete(inv) ? {} : { comment: 'The inventory is incomplete; see the subject package comment.' }),
    },
    packages,
    relationships,
    ...(licenseRefs.size
      ? {
          hasExtractedLicensingInfos: [...licenseRefs].map(([text, id]) => ({
            licenseId: id,
            name: text,
            extractedText: `The package declares the licence "${text}", which is not on the SPDX licence list.`,
          })),
        }
      : {}),
  };
}
