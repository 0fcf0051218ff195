import { fail, printable } from '../errors.js';
import { IMAGE_MANIFEST_TYPES, INDEX_TYPES } from '../oci/mediatypes.js';
import { cosignSubject } from './classify.js';

/**
 * distribution's notification envelopes (`POST` body `{"events":[...]}`, media type
 * application/vnd.docker.distribution.events.v1+json), pure. Kept: manifest pushes and deletes, as "look at this tag"
 * or "look at the tags naming this digest". Blob, pull and mount events change no tag and are counted as ignored.
 */

export const EVENTS_MEDIA_TYPE = 'application/vnd.docker.distribution.events.v1+json';
export const MAX_ENVELOPE_BYTES = 1024 * 1024;
export const MAX_EVENTS = 1000;

/** What one kept event asks the watcher to look at again. */
export type WatchEvent =
  | {
      readonly kind: 'tag';
      readonly action: 'push' | 'delete';
      readonly id: string | undefined;
      /** The registry as its clients named it (request.host, else the host of target.url). */
      readonly host: string | undefined;
      readonly repository: string;
      readonly tag: string;
      /** A push's target.digest: the manifest the tag is to name (distribution notifies before the tag points at it). */
      readonly digest?: string;
    }
  | {
      /** A manifest deleted by digest, or a cosign signature/attestation tag pushed or deleted for this digest. */
      readonly kind: 'digest';
      readonly action: 'push' | 'delete';
      readonly id: string | undefined;
      readonly host: string | undefined;
      readonly repository: string;
      readonly digest: string;
    };

export interface ParsedEnvelope {
  readonly events: readonly WatchEvent[];
  /** Events that change no tag (blobs, pulls, mounts, unknown actions, manifests pushed by digest only). */
  readonly ignored: number;
}

const OLD_MANIFEST_TYPES = new Set([
  'application/vnd.docker.distribution.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
]);
const REPOSITORY_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST_RE = /^(?:sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$/;
const HOST_RE = /^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})(?::[0-9]{1,5})?$/;

function isManifestType(t: string): boolean {
  return IMAGE_MANIFEST_TYPES.has(t) || INDEX_TYPES.has(t) || OLD_MANIFEST_TYPES.has(t);
}

function bad(where: string, what: string): never {
  return fail('NOTIFICATION_INVALID', `notification envelope: ${where}: ${what}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** An optional string field: undefined when absent or empty, an error when of another type or too long. */
function optString(o: Record<string, unknown>, key: string, where: string, max = 1024): string | undefined {
  const v = o[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') bad(`${where}.${key}`, `expected a string, got ${Array.isArray(v) ? 'array' : typeof v}`);
  if (v.length > max) bad(`${where}.${key}`, `longer than ${max} characters`);
  return v;
}

function checked(value: string | undefined, re: RegExp, where: string, what: string): string | undefined {
  if (value !== undefined && !re.test(value)) bad(where, `'${printable(value, 80)}' is not ${what}`);
  return value;
}

/** The registry the event came from: request.host, else the host of target.url; undefined when neither says. */
function hostOf(event: Record<string, unknown>, target: Record<string, unknown>, where: string): string | undefined {
  const request = event.request;
  if (request !== undefined && request !== null && !isObject(request)) bad(`${where}.request`, 'expected an object');
  const host = request ? optString(request, 'host', `${where}.request`, 260) : undefined;
  if (host !== undefined) return checked(host, HOST_RE, `${where}.request.host`, 'a host[:port]');
  const url = optString(target, 'url', `${where}.target`, 4096);
  if (url === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return bad(`${where}.target.url`, 'not a URL');
  }
  return checked(parsed.host, HOST_RE, `${where}.target.url`, 'a URL with a host[:port]');
}

function readEvent(raw: unknown, i: number): WatchEvent[] {
  const where = `events[${i}]`;
  if (!isObject(raw)) bad(where, 'expected an object');
  const action = optString(raw, 'action', where, 64);
  if (action !== 'push' && action !== 'delete') return [];
  const target = raw.target;
  if (!isObject(target)) bad(`${where}.target`, 'expected an object');
  const mediaType = optString(target, 'mediaType', `${where}.target`, 256);
  // distribution 2.8 sends deletes without a media type (a blob delete looks like a manifest delete by digest):
  // a delete is kept unless its media type says it is not a manifest; rechecking a digest costs little.
  if (
    action === 'push' ? mediaType === undefined || !isManifestType(mediaType) : mediaType && !isManifestType(mediaType)
  ) {
    return [];
  }
  const id = optString(raw, 'id', where, 256);
  const repository = checked(
    optString(target, 'repository', `${where}.target`, 255),
    REPOSITORY_RE,
    `${where}.target.repository`,
    'a repository name',
  );
  if (repository === undefined) bad(`${where}.target.repository`, 'missing');
  const tag = checked(optString(target, 'tag', `${where}.target`, 128), TAG_RE, `${where}.target.tag`, 'a tag');
  const digest = checked(
    optString(target, 'digest', `${where}.target`, 200),
    DIGEST_RE,
    `${where}.target.digest`,
    'a sha256 or sha512 digest',
  );
  const host = hostOf(raw, target, where);
  if (tag !== undefined) {
    const tagEvent: WatchEvent = {
      kind: 'tag',
      action,
      id,
      host,
      repository,
      tag,
      ...(action === 'push' && digest !== undefined ? { digest } : {}),
    };
    const signed = cosignSubject(tag);
    // Named like a cosign attachment: the signed digest's tags are checked again, and the tag itself, since only its
    // layers (read by the check) say whether it is a signature or an image pushed under that name.
    return signed ? [{ kind: 'digest', action, id, host, repository, digest: signed }, tagEvent] : [tagEvent];
  }
  // A manifest pushed by digest alone moves no tag.
  if (action === 'push' || digest === undefined) return [];
  return [{ kind: 'digest', action, id, host, repository, digest }];
}

/** Parse one envelope; NOTIFICATION_INVALID (one line: where and what) for anything else. */
export function parseEnvelope(body: Uint8Array | string): ParsedEnvelope {
  const size = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
  if (size > MAX_ENVELOPE_BYTES) bad('body', `${size} bytes, more than the ${MAX_ENVELOPE_BYTES} allowed`);
  const text = typeof body === 'string' ? body : Buffer.from(body).toString('utf8');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return bad('body', 'not JSON');
  }
  if (!isObject(doc)) bad('body', 'expected an object with an events list');
  const events = doc.events;
  if (!Array.isArray(events)) bad('events', 'expected a list');
  if (events.length > MAX_EVENTS) bad('events', `${events.length} events, more than the ${MAX_EVENTS} allowed`);
  const kept: WatchEvent[] = [];
  let ignored = 0;
  events.forEach((raw, i) => {
    const e = readEvent(raw, i);
    if (e.length > 0) kept.push(...e);
    else ignored++;
  });
  return { events: kept, ignored };
}
