import { fail, printable } from '../errors.js';
import { parseDigest } from '../oci/digest.js';
import { DOCKER_HUB, parseDockerReference } from '../oci/reference.js';
import { goJson, sortKeys } from './gojson.js';

/**
 * The simple-signing payload cosign signs (ref: cosign specs/SIGNATURE_SPEC.md, "Payload"; sigstore
 * pkg/signature/payload): `{"critical":{"identity":{"docker-reference":REPO},"image":{"docker-manifest-digest":
 * DIGEST},"type":"cosign container image signature"},"optional":{...}|null}`.
 */
export const SIMPLE_SIGNING_TYPE = 'cosign container image signature';
export const SIMPLE_SIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
/** Payloads are a few hundred bytes; the cap bounds what verification reads from a hostile registry. */
export const MAX_PAYLOAD_BYTES = 1024 * 1024;

/** What a simple-signing payload claims. */
export interface SimpleSigningClaims {
  /** `critical.identity.docker-reference`: the repository the signer meant, e.g. `registry.example/team/app`. */
  readonly dockerReference: string;
  /** `critical.image.docker-manifest-digest`. */
  readonly digest: string;
  /** `optional`: unsigned-by-meaning annotations (`cosign sign -a k=v`), null when there are none. */
  readonly optional: Readonly<Record<string, unknown>> | null;
}

/** A repository as cosign names it in payloads (go-containerregistry's `Repository.Name()`). */
export function cosignRepositoryName(registry: string, repository: string): string {
  return `${registry === DOCKER_HUB ? 'index.docker.io' : registry}/${repository}`;
}

/** Normalise a repository name (`host/path`, Docker Hub short forms allowed) for comparison; BAD_REFERENCE if not one. */
export function normalizeRepository(name: string): string {
  if (name.includes('@') || name.slice(name.lastIndexOf('/') + 1).includes(':')) {
    fail(
      'BAD_REFERENCE',
      `'${printable(name, 200)}' is not a repository name (give host/path without a tag or digest)`,
    );
  }
  const ref = parseDockerReference(name);
  return cosignRepositoryName(ref.registry, ref.repository);
}

/** The payload bytes for an image digest in a repository, as cosign writes them for the same input. */
export function buildPayload(dockerReference: string, digest: string, optional?: Record<string, unknown>): Buffer {
  parseDigest(digest, 'the image digest');
  const doc = {
    critical: {
      identity: { 'docker-reference': dockerReference },
      image: { 'docker-manifest-digest': digest },
      type: SIMPLE_SIGNING_TYPE,
    },
    optional: optional && Object.keys(optional).length > 0 ? sortKeys(optional) : null,
  };
  return Buffer.from(goJson(doc), 'utf8');
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parse a payload's claims; SIGNATURE_MALFORMED naming the field for anything that is not a simple-signing payload. */
export function parsePayload(bytes: Uint8Array, where: string): SimpleSigningClaims {
  const bad = (what: string): never => fail('SIGNATURE_MALFORMED', `${where}: ${what}`);
  if (bytes.length > MAX_PAYLOAD_BYTES)
    bad(`payload of ${bytes.length} bytes is over the ${MAX_PAYLOAD_BYTES}-byte limit`);
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    return bad('payload is not JSON');
  }
  if (!isObject(doc)) return bad('payload is not a JSON object');
  const critical = doc.critical;
  if (!isObject(critical)) return bad("payload has no 'critical' object");
  if (critical.type !== SIMPLE_SIGNING_TYPE)
    bad(`critical.type is '${printable(String(critical.type), 80)}', not '${SIMPLE_SIGNING_TYPE}'`);
  const identity = critical.identity;
  const image = critical.image;
  if (!isObject(identity) || typeof identity['docker-reference'] !== 'string')
    return bad('critical.identity.docker-reference is missing');
  if (!isObject(image) || typeof image['docker-manifest-digest'] !== 'string')
    return bad('critical.image.docker-manifest-digest is missing');
  const optional = doc.optional;
  if (optional !== undefined && optional !== null && !isObject(optional)) return bad("'optional' is not an object");
  return {
    dockerReference: identity['docker-reference'],
    digest: image['docker-manifest-digest'],
    optional: optional ?? null,
  };
}
