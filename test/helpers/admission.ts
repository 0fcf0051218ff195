import { type AdmissionRequest, parseAdmissionReview } from '../../src/k8s/webhook/review.js';

/**
 * An AdmissionRequest for `object` in namespace `team`, through the real review parser: its kind and group from the
 * object's apiVersion and kind, its name from its metadata; an UPDATE carries the object as its old object too.
 */
export function admissionRequest(object: Record<string, unknown>, operation = 'CREATE'): AdmissionRequest {
  const apiVersion = object.apiVersion as string;
  const group = apiVersion.includes('/') ? (apiVersion.split('/')[0] as string) : '';
  const r = parseAdmissionReview(
    Buffer.from(
      JSON.stringify({
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: {
          uid: 'u',
          kind: { group, version: 'v1', kind: object.kind },
          namespace: 'team',
          name: (object.metadata as { name: string }).name,
          operation,
          object,
          ...(operation === 'UPDATE' ? { oldObject: object } : {}),
        },
      }),
    ),
  );
  if (!r.ok) throw new Error(r.message);
  return r.request;
}
