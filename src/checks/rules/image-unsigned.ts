import type { MisconfigRule } from '../model.js';

/**
 * CIS 4.5: the image carries no valid signature by a key the trust policy names for its repository. The check needs
 * the registry (or layout) and a trust policy, so it runs at the I/O edge (`scan --trust-policy`, src/checks/signature.ts);
 * this module is the rule's metadata, and it has no pure check.
 */
export const imageUnsigned: MisconfigRule = {
  id: 'image-unsigned',
  kind: 'misconfiguration',
  title: 'Image has no valid signature by a trusted key',
  severity: 'high',
  cis: '4.5',
  dockle: 'CIS-DI-0005',
  rationale:
    'Without a signature by a key the organisation trusts, nothing shows that the image is the one the pipeline built and assessed rather than one pushed or altered by someone else (content trust).',
  remediation:
    'Promote images through `portcullis gate`, which signs them, or sign with `portcullis sign` / `cosign sign`; name the signing key for the repository in the trust policy.',
};
