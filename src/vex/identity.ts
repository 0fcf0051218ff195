import { PackageURL } from 'packageurl-js';
import { printable } from '../errors.js';
import type { VexIdentifier, VexPackageId } from './model.js';

/** What an identifier string names, or why it can never match (kept as a warning, never a guess). */
export type IdentifierRead = { readonly id: VexIdentifier } | { readonly reason: string };

const DIGEST = /^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$/;
// An image reference pinned by digest, with an optional transport: docker://host/repo@sha256:..., repo:tag@sha256:...
const REF_WITH_DIGEST = /^(?:[a-z][a-z0-9+.-]*:\/\/)?[^\s@]+@(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$/;

/** Parse a purl with packageurl-js (which normalises case and names per type); undefined when it is not one. */
export function parsePurl(s: string): PackageURL | undefined {
  if (!s.startsWith('pkg:') || s.length > 4096) return undefined;
  try {
    return PackageURL.fromString(s);
  } catch {
    return undefined;
  }
}

/** The package identity of a parsed purl. */
export function packageId(p: PackageURL): VexPackageId {
  return {
    kind: 'package',
    type: p.type,
    ...(p.namespace ? { namespace: p.namespace } : {}),
    name: p.name,
    ...(p.version ? { version: p.version } : {}),
    qualifiers: { ...(p.qualifiers ?? {}) },
    ...(p.subpath ? { subpath: p.subpath } : {}),
  };
}

/**
 * Read one identifier string: a purl (`pkg:oci/...@sha256:...` is an image, any other type a package), a bare image
 * digest, or an image reference pinned by digest. Images are matched by digest only: a tag or a versionless
 * `pkg:oci` purl could name any build, so it is reported and never matches.
 */
export function readIdentifier(raw: string): IdentifierRead {
  const s = raw.trim();
  if (s.startsWith('pkg:')) {
    const p = parsePurl(s);
    if (!p) return { reason: `'${printable(s, 120)}' is not a valid package URL` };
    if (p.type !== 'oci') return { id: packageId(p) };
    const digest = p.version?.toLowerCase();
    if (!digest || !DIGEST.test(digest)) {
      return { reason: `'${printable(s, 120)}' names an image without a digest; images are matched by digest only` };
    }
    const arch = p.qualifiers?.arch;
    return { id: { kind: 'image', digest, ...(arch ? { arch } : {}) } };
  }
  const lower = s.toLowerCase();
  if (DIGEST.test(lower)) return { id: { kind: 'image', digest: lower } };
  const m = REF_WITH_DIGEST.exec(s);
  if (m?.[1]) return { id: { kind: 'image', digest: m[1] } };
  return { reason: `'${printable(s, 120)}' is neither a package URL nor an image digest` };
}

/** An OpenVEX `hashes` entry or a CycloneDX container hash, when it is a digest Portcullis can compare. */
export function digestFromHash(alg: string, value: string): string | undefined {
  const a = alg.toLowerCase().replace(/-/g, '');
  const v = value.trim().toLowerCase();
  if (a === 'sha256' && /^[0-9a-f]{64}$/.test(v)) return `sha256:${v}`;
  if (a === 'sha512' && /^[0-9a-f]{128}$/.test(v)) return `sha512:${v}`;
  return undefined;
}
