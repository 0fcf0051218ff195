import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PortcullisError } from '../../src/errors.js';
import { MAX_ENVELOPE_BYTES, MAX_EVENTS, parseEnvelope } from '../../src/watch/notifications.js';

/** distribution's notification envelopes: what is kept, what is ignored, and hostile bodies. */

const D1 = `sha256:${'a1'.repeat(32)}`;
const MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';

/** An event shaped as distribution 2.8 writes it (every field it sends, most of which the watcher does not read). */
function event(action: string, target: Record<string, unknown>, host = 'registry.test:5000'): unknown {
  return {
    id: 'b7a3c2e1-0000-4000-8000-000000000001',
    timestamp: '2026-11-29T06:40:00.123456789Z',
    action,
    target: { size: 527, length: 527, url: `https://${host}/v2/${target.repository}/manifests/${D1}`, ...target },
    request: { id: 'r1', addr: '127.0.0.1:40000', host, method: 'PUT', useragent: 'skopeo/1.9' },
    actor: { name: 'ci' },
    source: { addr: 'registry-1:5000', instanceID: 'i1' },
  };
}

const body = (...events: unknown[]) => JSON.stringify({ events });

function error(f: () => unknown): PortcullisError {
  try {
    f();
  } catch (err) {
    if (err instanceof PortcullisError) return err;
    throw err;
  }
  throw new Error('expected a PortcullisError');
}

describe('parseEnvelope', () => {
  it('keeps a manifest push by tag, with the host the client named and the digest it pushed', () => {
    const r = parseEnvelope(
      body(event('push', { mediaType: MANIFEST, digest: D1, repository: 'prod/app', tag: '1.0' })),
    );
    expect(r).toEqual({
      events: [
        {
          kind: 'tag',
          action: 'push',
          id: 'b7a3c2e1-0000-4000-8000-000000000001',
          host: 'registry.test:5000',
          repository: 'prod/app',
          tag: '1.0',
          digest: D1,
        },
      ],
      ignored: 0,
    });
  });

  it('ignores blob pushes, pulls, mounts, unknown actions and manifests pushed by digest only', () => {
    const r = parseEnvelope(
      body(
        event('push', { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: D1, repository: 'a/b' }),
        event('push', { mediaType: 'application/octet-stream', digest: D1, repository: 'a/b' }),
        event('pull', { mediaType: MANIFEST, digest: D1, repository: 'a/b', tag: 'x' }),
        event('mount', { mediaType: 'application/octet-stream', digest: D1, repository: 'a/b' }),
        event('rename', { mediaType: MANIFEST, digest: D1, repository: 'a/b', tag: 'x' }),
        event('push', { mediaType: 'application/vnd.oci.image.index.v1+json', digest: D1, repository: 'a/b' }),
      ),
    );
    expect(r).toEqual({ events: [], ignored: 6 });
  });

  it('keeps every manifest media type (OCI, Docker, indexes, schema 1)', () => {
    const types = [
      'application/vnd.oci.image.manifest.v1+json',
      'application/vnd.oci.image.index.v1+json',
      MANIFEST,
      'application/vnd.docker.distribution.manifest.list.v2+json',
      'application/vnd.docker.distribution.manifest.v1+prettyjws',
    ];
    const r = parseEnvelope(body(...types.map((t) => event('push', { mediaType: t, repository: 'a', tag: 't' }))));
    expect(r.events).toHaveLength(types.length);
  });

  it('a delete by tag is a tag; by digest (2.8 sends no media type) is a digest; a blob delete with a type is ignored', () => {
    const r = parseEnvelope(
      body(
        event('delete', { repository: 'prod/app', tag: '1.0' }),
        event('delete', { repository: 'prod/app', digest: D1 }),
        event('delete', { repository: 'prod/app', digest: D1, mediaType: 'application/octet-stream' }),
      ),
    );
    expect(r.events.map((e) => [e.kind, e.action, e.kind === 'tag' ? e.tag : e.digest])).toEqual([
      ['tag', 'delete', '1.0'],
      ['digest', 'delete', D1],
    ]);
    expect(r.ignored).toBe(1);
  });

  it("a cosign-named tag pushed: the signed digest's tags and the tag itself (its layers decide) need another look", () => {
    const hex = 'c3'.repeat(32);
    const r = parseEnvelope(
      body(
        event('push', {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          repository: 'p/a',
          tag: `sha256-${hex}.sig`,
        }),
        event('push', { mediaType: MANIFEST, repository: 'p/a', tag: `sha256-${hex}.att` }),
      ),
    );
    expect(r.events.map((e) => (e.kind === 'digest' ? e.digest : e.tag))).toEqual([
      `sha256:${hex}`,
      `sha256-${hex}.sig`,
      `sha256:${hex}`,
      `sha256-${hex}.att`,
    ]);
    expect(r.ignored).toBe(0);
  });

  it('takes the host from target.url when the request is missing', () => {
    const e = event('push', { mediaType: MANIFEST, repository: 'a', tag: 't' }, 'other.test:443') as {
      request?: unknown;
    };
    delete e.request;
    expect(parseEnvelope(body(e)).events[0]?.host).toBe('other.test');
    const bare = { action: 'push', target: { mediaType: MANIFEST, repository: 'a', tag: 't' } };
    expect(parseEnvelope(body(bare)).events[0]?.host).toBeUndefined();
  });

  it('accepts an empty envelope and bytes as well as text', () => {
    expect(parseEnvelope(Buffer.from('{"events":[]}'))).toEqual({ events: [], ignored: 0 });
  });

  it('refuses malformed envelopes with a one-line message naming where', () => {
    const cases: [string, string][] = [
      ['not json', 'body: not JSON'],
      ['[]', 'body: expected an object'],
      ['{}', 'events: expected a list'],
      ['{"events":{}}', 'events: expected a list'],
      ['{"events":[7]}', 'events[0]: expected an object'],
      ['{"events":[{"action":"push"}]}', 'events[0].target: expected an object'],
      [body({ action: 'push', target: { mediaType: MANIFEST, tag: 't' } }), 'events[0].target.repository: missing'],
      [
        body({ action: 'push', target: { mediaType: MANIFEST, repository: 'A/B', tag: 't' } }),
        "'A/B' is not a repository",
      ],
      [body({ action: 'push', target: { mediaType: MANIFEST, repository: 'a', tag: '../x' } }), 'target.tag'],
      [body({ action: 'delete', target: { repository: 'a', digest: 'md5:00' } }), 'not a sha256 or sha512 digest'],
      [
        body({ action: 'push', target: { mediaType: MANIFEST, repository: 'a', tag: 7 } }),
        'target.tag: expected a string',
      ],
      [
        body({ action: 'push', target: { mediaType: MANIFEST, repository: 'a', tag: 't' }, request: { host: 'a b' } }),
        'request.host',
      ],
      [
        body({ action: 'push', target: { mediaType: MANIFEST, repository: 'a', tag: 't', url: 'no url' } }),
        'not a URL',
      ],
      [body({ action: 'push', target: { mediaType: MANIFEST, repository: 'a', tag: 't\nx' } }), "'t?x'"],
    ];
    for (const [text, want] of cases) {
      const err = error(() => parseEnvelope(text));
      expect(err.code, text).toBe('NOTIFICATION_INVALID');
      expect(err.message, text).toContain(want);
      expect(err.message).not.toContain('\n');
    }
  });

  it('bounds the body size and the event count', () => {
    const big = `{"events":[],"pad":"${'x'.repeat(MAX_ENVELOPE_BYTES)}"}`;
    expect(error(() => parseEnvelope(big)).message).toContain(`more than the ${MAX_ENVELOPE_BYTES} allowed`);
    const many = body(...Array.from({ length: MAX_EVENTS + 1 }, () => ({ action: 'pull' })));
    expect(error(() => parseEnvelope(many)).message).toContain(`${MAX_EVENTS + 1} events, more than`);
    // Deep nesting within the size limit is just refused or ignored, never a crash.
    const deep = `{"events":[${'['.repeat(200_000)}${']'.repeat(200_000)}]}`;
    expect(error(() => parseEnvelope(deep)).message).toContain('events[0]: expected an object');
  });
});

describe('parseEnvelope fuzz', () => {
  const oneLineRefusal = (input: string | Uint8Array) => {
    try {
      const r = parseEnvelope(input);
      expect(r.events.length + r.ignored).toBeLessThanOrEqual(MAX_EVENTS);
    } catch (err) {
      expect(err).toBeInstanceOf(PortcullisError);
      expect((err as PortcullisError).code).toBe('NOTIFICATION_INVALID');
      expect((err as Error).message).not.toMatch(/[\n\r]/);
    }
  };

  it('arbitrary bytes and text: parsed or refused with NOTIFICATION_INVALID, never anything else', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), oneLineRefusal), { numRuns: 500 });
    fc.assert(fc.property(fc.string({ maxLength: 512 }), oneLineRefusal), { numRuns: 500 });
  });

  it('arbitrary JSON in the envelope and event fields: parsed or refused, never a crash', () => {
    const field = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom('push', 'delete', MANIFEST, 'a/b', D1));
    const ev = fc.record(
      {
        action: field,
        target: fc.oneof(
          field,
          fc.record(
            { mediaType: field, repository: field, tag: field, digest: field, url: field },
            { requiredKeys: [] },
          ),
        ),
        request: fc.oneof(field, fc.record({ host: field }, { requiredKeys: [] })),
        id: field,
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.array(ev, { maxLength: 8 }), (events) => oneLineRefusal(JSON.stringify({ events }))),
      { numRuns: 1000 },
    );
  });

  it('every well-formed manifest push by tag comes back as that repository and tag', () => {
    const component = fc.stringMatching(/^[a-z0-9]{1,8}(?:[._-][a-z0-9]{1,8})?$/);
    const repo = fc.array(component, { minLength: 1, maxLength: 3 }).map((c) => c.join('/'));
    const tag = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}$/).filter((t) => !/^sha(256|512)-/.test(t));
    fc.assert(
      fc.property(repo, tag, (repository, t) => {
        const r = parseEnvelope(body(event('push', { mediaType: MANIFEST, digest: D1, repository, tag: t })));
        expect(r.events).toEqual([
          expect.objectContaining({ kind: 'tag', action: 'push', repository, tag: t, host: 'registry.test:5000' }),
        ]);
      }),
      { numRuns: 300 },
    );
  });
});
