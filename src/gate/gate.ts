import type { AdvisoryLookup } from '../advisories/match.js';
import { type CheckSettings, settingsUsed } from '../checks/settings.js';
import { formatDockerReference } from '../oci/reference.js';
import { type CopyEvent, copyImage, tagManifest } from '../oci/registry/copy.js';
import type { Policy } from '../policy/model.js';
import { toVulnerabilityCycloneDx } from '../report/vuln-cyclonedx.js';
import { type KeyPair, keyId } from '../sign/keys.js';
import { cosignRepositoryName } from '../sign/payload.js';
import { RegistrySignatureStore } from '../sign/registrystore.js';
import type { TrustedKey } from '../sign/verify.js';
import type { VexStatement } from '../vex/model.js';
import { type AssessInput, assess } from './assess.js';
import { baseSignatureVerifier, type PolicyKeys } from './basesig.js';
import type { Assessment, GateResult, GateStep } from './model.js';
import { buildPredicate } from './predicate.js';
import { attestStep, readPublished, signStep, verifyPublished } from './publish.js';
import type { GateRegistries } from './registries.js';
import { type GateRefs, resolveSource } from './resolve.js';

/** Everything a gate run decides with, read and checked before anything touches a registry. */
export interface GateInput {
  readonly refs: GateRefs;
  readonly policy: Policy;
  /** The keys of the policy's base-image-signature rule; undefined when the policy has no such rule. */
  readonly policyKeys: PolicyKeys | undefined;
  /** The gate's signing key (already decrypted: a wrong password fails before any registry is read). */
  readonly key: KeyPair;
  readonly advisories: AdvisoryLookup;
  readonly database: Assessment['database'];
  readonly vex: readonly VexStatement[];
  readonly limits: AssessInput['limits'];
  readonly now: () => Date;
  /** Settings of the misconfiguration and secret checks (`--checks-config`); defaults otherwise. */
  readonly checkSettings?: CheckSettings;
}

/** The run's edges: registries, messages, and the hook called after each step (progress, the test pause). */
export interface GateIO {
  readonly registries: GateRegistries;
  progress(message: string): void;
  warn(message: string): void;
  readonly walkProgress?: AssessInput['onProgress'];
  readonly onCopyEvent?: (e: CopyEvent) => void;
  after(step: GateStep): Promise<void>;
}

/**
 * One gate run: resolve the source to a digest once; assess the digest; on PASS, unless production's tag already
 * names it, signed and attested under this policy, copy it to production by digest, sign it, attest it, read back and
 * verify what was written, and only then set the tag. A FAIL, or any error, before the copy
 * leaves production untouched; a crash or error after it leaves only untagged content, which a rerun completes. So
 * production's tag never names a digest that is not signed and attested.
 */
export async function runGate(input: GateInput, io: GateIO): Promise<GateResult> {
  const { refs, policy, key } = input;
  const reg = io.registries;
  const source = `docker://${formatDockerReference(refs.source)}`;
  const identity = cosignRepositoryName(refs.dest.registry, refs.dest.repository);
  const destination = `${refs.dest.registry}/${refs.dest.repository}`;
  const store = new RegistrySignatureStore(reg.dest);
  const trusted: TrustedKey = { key: key.publicKey, id: keyId(key.publicKey), name: 'the gate key' };
  const settings = settingsUsed(input.checkSettings);

  io.progress(`resolving ${source}`);
  const { digest, mediaType } = await resolveSource(reg.source, refs.source);
  await io.after('resolve');
  const base = { source, digest, mediaType, destination, tag: refs.tag };

  // Production's first read: whether it is reachable (before the assessment), and whether its tag names this digest.
  const current = await reg.dest.headManifest(refs.tag);
  const currentDigest = current ? (current.digest ?? (await reg.dest.findManifest(refs.tag))?.digest) : undefined;
  const inProduction = currentDigest === digest;

  io.progress(`assessing ${source}@${digest}`);
  const now = input.now();
  const image = reg.openSource(digest);
  let assessment: Assessment;
  try {
    assessment = await assess({
      source: image,
      policy,
      advisories: input.advisories,
      database: input.database,
      vex: input.vex,
      now,
      limits: input.limits,
      ...(input.checkSettings ? { checkSettings: input.checkSettings } : {}),
      ...(input.policyKeys ? { signaturesFor: baseSignatureVerifier(policy, input.policyKeys, reg.baseStore) } : {}),
      ...(io.walkProgress ? { onProgress: io.walkProgress } : {}),
      warn: io.warn,
    });
  } finally {
    await image.close();
  }
  const predicate = buildPredicate(assessment, { source, digest, mediaType }, policy, now, settings);
  await io.after('assess');
  if (!assessment.pass) {
    return { ...base, outcome: 'failed', predicate, assessment, inProduction, time: input.now().toISOString() };
  }
  // Assessed again even when promoted before: a newer advisory database, VEX, the clock or the keys may decide
  // otherwise. Promoted, signed and attested under this policy already: nothing to write.
  if (inProduction) {
    const published = await readPublished(store, digest, identity, trusted, { policy: policy.digest, settings });
    if (published.kind === 'published') {
      return {
        ...base,
        outcome: 'already-promoted',
        predicate,
        assessment,
        attestedAt: published.predicate.assessedAt,
        time: input.now().toISOString(),
      };
    }
  }

  io.progress(`copying ${digest} to ${destination}`);
  const copy = await copyImage(reg.source, reg.dest, digest, io.onCopyEvent ? { onEvent: io.onCopyEvent } : {});
  await io.after('copy');

  io.progress(`signing ${digest} in ${destination}`);
  const signature = await signStep(store, digest, key, identity);
  await io.after('sign');

  io.progress(`attesting ${digest} in ${destination}`);
  const sbom = toVulnerabilityCycloneDx(
    assessment.platforms.map((p) => ({ inv: p.inv, findings: p.findings })),
    { timestamp: now },
  );
  const attestations = await attestStep(store, digest, key, trusted, identity, predicate, sbom);
  await io.after('attest');

  io.progress(`verifying what was written, then tagging ${destination}:${refs.tag}`);
  await verifyPublished(store, digest, identity, trusted);
  await tagManifest(reg.dest, refs.tag, digest);
  await io.after('tag');

  return {
    ...base,
    outcome: 'promoted',
    predicate,
    assessment,
    promotion: {
      copied: {
        blobs: copy.blobs.copied,
        mounted: copy.blobs.mounted,
        present: copy.blobs.present,
        bytes: copy.blobs.bytes,
      },
      manifestsPushed: copy.pushed.length,
      signature,
      attestations,
    },
    time: input.now().toISOString(),
  };
}
