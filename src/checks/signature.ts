import type { Finding } from '../findings/finding.js';
import { parseImageLocation } from '../oci/reference.js';
import type { RegistryOptions } from '../oci/registry/client.js';
import { openSignTarget } from '../sign/open.js';
import { checkSignature } from '../sign/trustcheck.js';
import type { TrustPolicy } from '../sign/trustpolicy.js';
import { describeFailures } from '../sign/verify.js';
import { imageRuleFinding } from './engine.js';
import { imageUnsigned } from './rules/image-unsigned.js';

/**
 * CIS 4.5 for `scan --trust-policy`: does the image's digest (the index digest for a multi-platform image, which is
 * what gets signed) carry a valid signature by a key the trust policy names for its repository? Registry errors
 * propagate: an unreachable registry is not a verdict. Only registry images have a repository to check against: the
 * caller checks `isRegistryImage` first.
 */
export async function unsignedFindings(
  ref: string,
  digest: string,
  policy: TrustPolicy,
  registry: RegistryOptions,
): Promise<{ findings: Finding[]; notes: string[] }> {
  let target: ReturnType<typeof openSignTarget>;
  try {
    target = openSignTarget(ref, undefined, registry);
  } catch {
    return {
      findings: [],
      notes: [`image-unsigned: ${ref} is not a registry image, so its signature was not checked`],
    };
  }
  try {
    const verdict = await checkSignature(target, digest, policy);
    if (verdict.verified.length > 0) return { findings: [], notes: [] };
    const why = verdict.untrusted ?? (describeFailures([...verdict.failures]) || 'no signature');
    const message = `${target.description} (${digest}) has no valid signature by a trusted key: ${why}`;
    return { findings: [imageRuleFinding(imageUnsigned, { message }, { image: `${ref}@${digest}` })], notes: [] };
  } finally {
    target.close();
  }
}

/** Whether `ref` names a registry image, the only kind whose signature names a repository to check. */
export function isRegistryImage(ref: string): boolean {
  return parseImageLocation(ref).transport === 'docker';
}
