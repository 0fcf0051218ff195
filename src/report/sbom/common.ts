import type { Inventory, Subject } from '../../inventory/image.js';
import type { Package } from '../../inventory/model.js';
import { purl } from '../../inventory/purl.js';

/** Options shared by SBOM writers. */
export interface SbomOptions {
  /** Document creation time; defaults to now (SOURCE_DATE_EPOCH is honoured by the CLI). */
  readonly timestamp?: Date;
  /** Unique id of the document (UUID); random by default. */
  readonly uuid?: string;
}

/** The image's own purl (ref: purl-spec types: oci). */
export function subjectPurl(s: Subject): string | undefined {
  if (s.kind !== 'image' || !s.digest) return undefined;
  const m = /^docker:\/\/([^/]+)\/(.+?)(?::([\w][\w.-]*))?(?:@.*)?$/.exec(s.source);
  const repoPath = m?.[2];
  const name = (repoPath?.split('/').pop() ?? 'image').toLowerCase();
  return purl('oci', undefined, name, s.digest, {
    arch: s.platform?.architecture,
    repository_url: m ? `${m[1]}/${repoPath}` : undefined,
    tag: m?.[3],
  });
}

/** A human name for the subject: the reference without transport noise. */
export function subjectName(s: Subject): string {
  return s.source.replace(/^docker:\/\//, '');
}

/** Unique, stable reference of a package within a document. */
export function packageRefs(packages: readonly Package[]): string[] {
  const seen = new Map<string, number>();
  return packages.map((p) => {
    const base = p.purl;
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    return n === 0 ? base : `${base}#${n}`;
  });
}

/** Whether the inventory is complete: no unknowns at all. */
export function isComplete(inv: Inventory): boolean {
  return inv.unknowns.length === 0;
}
