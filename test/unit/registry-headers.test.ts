import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { scopeFor } from '../../src/oci/registry/client.js';
import { chunkRange, parseLinkNext, referrersTag, uploadedBytes } from '../../src/oci/registry/headers.js';

const base = new URL('https://registry.test:5000/v2/team/app/tags/list?n=2');

describe('parseLinkNext (RFC 8288 Link, as registries paginate tags and referrers)', () => {
  it.each([
    ['</v2/team/app/tags/list?last=b&n=2>; rel="next"', 'https://registry.test:5000/v2/team/app/tags/list?last=b&n=2'],
    ['</v2/x?last=b>; rel=next', 'https://registry.test:5000/v2/x?last=b'],
    ['<https://registry.test:5000/v2/x?p=2>;rel="next"', 'https://registry.test:5000/v2/x?p=2'],
    ['</a>; rel="prev", </b>; rel="next"', 'https://registry.test:5000/b'],
    ['</a>; title="x"; rel="prefetch next"', 'https://registry.test:5000/a'],
    ['</a>; REL="Next"', 'https://registry.test:5000/a'],
    ['<?last=c>; rel="next"', 'https://registry.test:5000/v2/team/app/tags/list?last=c'],
  ])('%s', (header, expected) => {
    expect(parseLinkNext(header, base)?.href).toBe(expected);
  });

  it.each([
    [undefined],
    [''],
    ['</a>; rel="prev"'],
    ['</a>'],
    ['no brackets; rel="next"'],
    ['<http://[bad>; rel="next"'],
  ])('finds no next link in %j', (header) => {
    expect(parseLinkNext(header, base)).toBeUndefined();
  });

  it('reads the first next link of several header lines', () => {
    expect(parseLinkNext(['</a>; rel="prev"', '</b>; rel="next"'], base)?.pathname).toBe('/b');
  });

  it('never throws and only returns URLs, whatever the header holds', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (header) => {
        const r = parseLinkNext(header, base);
        expect(r === undefined || r instanceof URL).toBe(true);
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.webUrl(), fc.constantFrom('next', '"next"', '"prev next"'), (url, rel) => {
        expect(parseLinkNext(`<${url}>; rel=${rel}`, base)?.href).toBe(new URL(url).href);
      }),
    );
  });
});

describe('uploadedBytes (the Range header of an upload session)', () => {
  it.each([
    ['0-99', 100],
    ['bytes=0-1048575', 1048576],
    [' 0-1 ', 2],
  ])('%j holds %i bytes', (header, n) => {
    expect(uploadedBytes(header)).toBe(n);
  });

  it.each([[undefined], ['0-0'], ['5-9'], ['0-'], ['garbage'], ['0-99999999999999999999']])(
    'cannot tell from %j',
    (header) => {
      // distribution writes 0-0 for an empty session and after one byte alike
      expect(uploadedBytes(header)).toBeUndefined();
    },
  );

  it('never throws and never returns a negative or unsafe count', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (header) => {
        const n = uploadedBytes(header);
        expect(n === undefined || (Number.isSafeInteger(n) && n > 1)).toBe(true);
      }),
    );
  });
});

describe('chunkRange (Content-Range of a PATCH: inclusive, no unit)', () => {
  it('covers exactly the chunk and round-trips through uploadedBytes', () => {
    expect(chunkRange(0, 1024)).toBe('0-1023');
    expect(chunkRange(8388608, 1)).toBe('8388608-8388608');
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 2 ** 40 }), (n) => {
        expect(uploadedBytes(chunkRange(0, n))).toBe(n);
        expect(chunkRange(0, n)).toMatch(/^[0-9]+-[0-9]+$/);
      }),
    );
  });

  it('refuses empty or negative chunks', () => {
    expect(() => chunkRange(0, 0)).toThrow(RangeError);
    expect(() => chunkRange(-1, 5)).toThrow(RangeError);
  });
});

describe('referrersTag (distribution-spec referrers tag schema)', () => {
  // The three examples of the spec's table.
  it.each([
    [`sha256:${'a'.repeat(64)}`, `sha256-${'a'.repeat(64)}`],
    [`sha512:${'a'.repeat(128)}`, `sha512-${'a'.repeat(64)}`],
    [
      'test+algorithm+using+algorithm+separators+and+lots+of+characters+to+excercise+overall+truncation:alsoSome=InTheEncodedSectionToShowHyphenReplacementAndLotsAndLotsOfCharactersToExcerciseEncodedTruncation',
      'test-algorithm-using-algorithm-s-alsoSome-InTheEncodedSectionToShowHyphenReplacementAndLotsAndLot',
    ],
  ])('%s', (digest, tag) => {
    expect(referrersTag(digest)).toBe(tag);
  });

  it('always yields a valid tag for digests of the image-spec grammar', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[a-z0-9]{1,10}(?:[+._-][a-z0-9]{1,10}){0,4}:[a-zA-Z0-9=_-]{1,140}$/),
        (digest) => {
          expect(referrersTag(digest)).toMatch(/^[\w][\w.-]{0,127}$/);
        },
      ),
    );
  });
});

describe('scopeFor (token scopes of a request)', () => {
  it('asks for pull, pull,push, and pull on the mount source in the same request', () => {
    expect(scopeFor('team/app', {})).toBe('repository:team/app:pull');
    expect(scopeFor('prod/app', { push: true })).toBe('repository:prod/app:pull,push');
    expect(scopeFor('prod/app', { push: true, mountFrom: 'staging/app' })).toBe(
      'repository:prod/app:pull,push repository:staging/app:pull',
    );
    expect(scopeFor('prod/app', { push: true, mountFrom: 'prod/app' })).toBe('repository:prod/app:pull,push');
  });
});
