import { randomUUID } from 'node:crypto';
import type { Inventory } from '../../inventory/image.js';
import { describeUnknown, type Package } from '../../inventory/model.js';
import { TOOL } from '../../version.js';
import { classifyLicense } from '../licenses.js';
import { isComplete, packageRefs, type SbomOptions, subjectName, subjectPurl } from './common.js';

type Json = Record<string, unknown>;

function licenses(p: Package): Json[] | undefined {
  if (p.licenses.length === 0) return undefined;
  const out: Json[] = [];
  for (const l of p.licenses) {
    const c = classifyLicense(l);
    if (c.kind === 'expression') {
      // CycloneDX allows an expression only as the sole licence entry.
      if (p.licenses.length === 1) return [{ expression: c.expression }];
      out.push({ license: { name: c.expression } });
    } else if (c.kind === 'id') out.push({ license: { id: c.id } });
    else out.push({ license: { name: c.name } });
  }
  return out;
}

function properties(p: Package, inv: Inventory): Json[] {
  const props: Json[] = [];
  const layer = inv.subject.layers[p.layer];
  if (layer?.digest) props.push({ name: 'portcullis:layer:digest', value: layer.digest });
  if (layer?.diffId) props.push({ name: 'portcullis:layer:diffID', value: layer.diffId });
  props.push({ name: 'portcullis:layer:index', value: String(p.layer) });
  props.push({ name: 'portcullis:foundBy', value: p.foundBy });
  p.locations.forEach((l, i) => {
    props.push({ name: `portcullis:location:${i}:path`, value: `/${l.path}` });
  });
  if (p.source && (p.source.name !== p.name || p.source.version !== p.version)) {
    props.push({ name: 'portcullis:source:name', value: p.source.name });
    props.push({ name: 'portcullis:source:version', value: p.source.version });
  }
  return props;
}

/** CycloneDX 1.6 JSON (ref: cyclonedx.org/docs/1.6/json). Unknowns make the composition "incomplete". */
export function toCycloneDx(inv: Inventory, opts: SbomOptions = {}): Json {
  const s = inv.subject;
  const rootRef = s.digest ?? `rootfs:${s.source}`;
  const refs = packageRefs(inv.packages);
  const osRef = inv.os ? `os:${inv.os.id}@${inv.os.versionId ?? ''}` : undefined;
  const rootPurl = subjectPurl(s);
  const rootProps: Json[] = [];
  if (s.configDigest) rootProps.push({ name: 'portcullis:image:configDigest', value: s.configDigest });
  if (s.indexDigest) rootProps.push({ name: 'portcullis:image:indexDigest', value: s.indexDigest });
  if (s.platform)
    rootProps.push({
      name: 'portcullis:image:platform',
      value: `${s.platform.os}/${s.platform.architecture}${s.platform.variant ? `/${s.platform.variant}` : ''}`,
    });
  for (const l of s.layers)
    if (l.diffId) rootProps.push({ name: `portcullis:image:layer:${l.index}:diffID`, value: l.diffId });
  for (const u of inv.unknowns) rootProps.push({ name: 'portcullis:unknown', value: describeUnknown(u) });
  const components: Json[] = [];
  if (inv.os && osRef) {
    components.push({
      type: 'operating-system',
      'bom-ref': osRef,
      name: inv.os.id,
      ...(inv.os.versionId ? { version: inv.os.versionId } : {}),
      ...(inv.os.prettyName ? { description: inv.os.prettyName } : {}),
    });
  }
  inv.packages.forEach((p, i) => {
    const lic = licenses(p);
    components.push({
      type: 'library',
      'bom-ref': refs[i],
      name: p.name,
      version: p.version,
      purl: p.purl,
      ...(lic ? { licenses: lic } : {}),
      properties: properties(p, inv),
    });
  });
  const timestamp = (opts.timestamp ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return {
    $schema: 'http://cyclonedx.org/schema/bom-1.6.schema.json',
    bomFormat: 'CycloneDX',
    specVersion: '1.6',
    serialNumber: `urn:uuid:${opts.uuid ?? randomUUID()}`,
    version: 1,
    metadata: {
      timestamp,
      tools: { components: [{ type: 'application', name: TOOL.name, version: TOOL.version }] },
      component: {
        type: s.kind === 'image' ? 'container' : 'file',
        'bom-ref': rootRef,
        name: subjectName(s),
        ...(s.digest ? { version: s.digest } : {}),
        ...(rootPurl ? { purl: rootPurl } : {}),
        ...(rootProps.length ? { properties: rootProps } : {}),
      },
    },
    components,
    dependencies: [{ ref: rootRef, dependsOn: [...(osRef ? [osRef] : []), ...refs] }],
    compositions: [{ aggregate: isComplete(inv) ? 'complete' : 'incomplete', assemblies: [rootRef] }],
  };
}
