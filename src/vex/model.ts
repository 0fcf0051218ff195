/**
 * One neutral model for VEX statements, whichever format they came in (OpenVEX, CycloneDX VEX). Plain data: the
 * parsers produce it, apply.ts reads it.
 */

/** The four VEX statuses (ref: OpenVEX spec "Status Labels"; CycloneDX states map onto them). */
export type VexStatus = 'not_affected' | 'affected' | 'fixed' | 'under_investigation';
export const VEX_STATUSES: readonly VexStatus[] = ['not_affected', 'affected', 'fixed', 'under_investigation'];

/** An image, known only by digest: a manifest or an index digest, optionally narrowed to one architecture. */
export interface VexImageId {
  readonly kind: 'image';
  /** `sha256:<hex>` (or sha512), lower case. */
  readonly digest: string;
  /** The purl's `arch` qualifier, when given. */
  readonly arch?: string;
}

/** A package by purl, parsed and normalised (packageurl-js); a missing version means any version. */
export interface VexPackageId {
  readonly kind: 'package';
  readonly type: string;
  readonly namespace?: string;
  readonly name: string;
  readonly version?: string;
  readonly qualifiers: Readonly<Record<string, string>>;
  readonly subpath?: string;
}

export type VexIdentifier = VexImageId | VexPackageId;

/** A product or subcomponent: every identifier the document gives for it (any one may match), and how it read. */
export interface VexComponent {
  readonly ids: readonly VexIdentifier[];
  /** The identifier as written, for messages. */
  readonly text: string;
}

/** A product, optionally narrowed to the subcomponents (packages inside it) the statement is about. */
export interface VexProduct extends VexComponent {
  readonly subcomponents: readonly VexComponent[];
}

/** Where a statement came from, for the citation in a suppressed finding. */
export interface VexOrigin {
  readonly format: 'openvex' | 'cyclonedx';
  readonly file: string;
  /** OpenVEX `@id`, CycloneDX `serialNumber`. */
  readonly documentId?: string;
  /** The statement's JSON path in its document, e.g. `$.statements[2]`. */
  readonly path: string;
}

export interface VexStatement {
  readonly vulnerability: { readonly id: string; readonly aliases: readonly string[] };
  readonly products: readonly VexProduct[];
  readonly status: VexStatus;
  /** The status as the document wrote it (CycloneDX `false_positive`, `resolved`, ...). */
  readonly statedStatus: string;
  readonly justification?: string;
  readonly impactStatement?: string;
  readonly actionStatement?: string;
  /** RFC 3339; the statement's own, else the document's. */
  readonly timestamp?: string;
  readonly origin: VexOrigin;
}

/** What a parser gives: the statements, and warnings about parts that can never match (no digest, unknown ref). */
export interface VexDocument {
  readonly statements: readonly VexStatement[];
  readonly warnings: readonly string[];
}

/** Statuses under which a finding is suppressed; affected and under_investigation leave it shown. */
export function suppresses(status: VexStatus): boolean {
  return status === 'not_affected' || status === 'fixed';
}

/** The citation of a statement: format, file, document id and JSON path. */
export function citation(o: VexOrigin): string {
  return `${o.format === 'openvex' ? 'OpenVEX' : 'CycloneDX VEX'} ${o.file}${o.documentId ? ` (${o.documentId})` : ''} ${o.path}`;
}
