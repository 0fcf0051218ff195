import { PackageURL } from 'packageurl-js';

/** Build a canonical package URL string; qualifiers with empty values are dropped. */
export function purl(
  type: string,
  namespace: string | undefined,
  name: string,
  version: string | undefined,
  qualifiers?: Record<string, string | undefined>,
  subpath?: string,
): string {
  const q: Record<string, string> = {};
  for (const [k, v] of Object.entries(qualifiers ?? {})) if (v) q[k] = v;
  return new PackageURL(type, namespace, name, version, Object.keys(q).length ? q : undefined, subpath).toString();
}

/** The `distro` qualifier as syft and trivy write it, e.g. `debian-12`, `alpine-3.19.1`. */
export function distroQualifier(os: { id: string; versionId?: string } | undefined): string | undefined {
  if (!os) return undefined;
  return os.versionId ? `${os.id}-${os.versionId}` : os.id;
}
