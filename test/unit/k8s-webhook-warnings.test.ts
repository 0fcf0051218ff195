import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { reviewResponse, warningText } from '../../src/k8s/webhook/review.js';

/*
 * Regression: warnings travel from the webhook to the user as `Warning:` HTTP headers that the API server writes byte
 * for byte; clients that read header bytes as Latin-1 (node, the JavaScript client) showed the '…' the webhook cut a
 * long warning with as 'â\x80¦' (seen through a real kube-apiserver, test/integration/k8s-webhook-apiserver.test.ts).
 */

const warningsOf = (ws: string[]) =>
  (reviewResponse('u', { allowed: true, warnings: ws }).response as { warnings?: string[] }).warnings ?? [];

describe('AdmissionReview warnings are header-safe', () => {
  it('cuts a long warning with ASCII dots, within 256 characters', () => {
    const [w] = warningsOf([`image registry.example.com/prod/app@sha256:${'a'.repeat(64)}: ${'x'.repeat(400)}`]);
    expect(w).toHaveLength(256);
    expect(w?.endsWith('...')).toBe(true);
    expect(w).not.toContain('…');
  });

  it('replaces what is not printable ASCII, and leaves a short ASCII warning as it is', () => {
    expect(warningsOf(['apparmor profile "localhost/prófil…" \u2028 tab\there'])).toEqual([
      'apparmor profile "localhost/pr?fil?" ? tab?here',
    ]);
    expect(warningsOf(['portcullis audit: would deny: privileged: container "c0"'])).toEqual([
      'portcullis audit: would deny: privileged: container "c0"',
    ]);
  });

  it('any text becomes printable ASCII of at most 256 characters; short printable ASCII is kept (fast-check)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 600 }), (s) => {
        const w = warningText(s);
        expect(w).toMatch(/^[\x20-\x7e]*$/);
        expect(w.length).toBeLessThanOrEqual(256);
        if (/^[\x20-\x7e]{0,256}$/.test(s)) expect(w).toBe(s);
      }),
      { numRuns: 300 },
    );
  });
});
