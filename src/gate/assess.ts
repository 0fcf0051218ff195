import type { AdvisoryLookup } from '../advisories/match.js';
import type { CheckResult } from '../checks/model.js';
import { prepareImageChecks, skippedRules } from '../checks/run.js';
import { type CheckSettings, DEFAULT_SETTINGS, settingsUsed } from '../checks/settings.js';
import { fail } from '../errors.js';
import type { WalkOptions, WalkProgress } from '../image/walk.js';
import { type Inventory, inventoryImage } from '../inventory/image.js';
import { describeUnknown } from '../inventory/model.js';
import { INDEX_TYPES } from '../oci/mediatypes.js';
import {
  type FetchedManifest,
  type ImageSource,
  isUnrunnableEntry,
  MAX_INDEX_DEPTH,
  resolveImages,
} from '../oci/source.js';
import { imageFactsOf } from '../policy/facts.js';
import type { ImageFacts, Policy, SignatureCheck } from '../policy/model.js';
import type { VexStatement } from '../vex/model.js';
import { decideInventory } from './decide.js';
import type { Assessment, PlatformAssessment } from './model.js';

/** What an assessment reads. */
export interface AssessInput {
  /** The source opened by digest: every read is by that digest. */
  readonly source: ImageSource;
  readonly policy: Policy;
  readonly advisories: AdvisoryLookup;
  readonly database: Assessment['database'];
  readonly vex: readonly VexStatement[];
  readonly now: Date;
  /** Limits of the layer walk (`--max-file-size` and the like). */
  readonly limits: Omit<WalkOptions, 'onProgress'>;
  /** Signature checks for the policy's base-image-signature rule; undefined: no verifier (the rule then errs). */
  readonly signaturesFor?: (facts: ImageFacts) => Promise<readonly SignatureCheck[] | undefined>;
  readonly onProgress?: (layers: number) => ((p: WalkProgress) => void) | undefined;
  readonly warn: (message: string) => void;
  /** Settings of the misconfiguration and secret checks, which run when the policy has rules on them. */
  readonly checkSettings?: CheckSettings;
}

/**
 * Assess every platform of the digest: inventory (one pass per layer), advisory matching, VEX, then the policy. A
 * multi-platform image is promoted whole, so every platform must pass. An inventory with a fatal unknown (a package
 * database that cannot be read) ends the run: an incomplete inventory never reaches a decision.
 */
export async function assess(input: AssessInput): Promise<Assessment> {
  const images = await resolveImages(input.source, { allPlatforms: true });
  if (images.length === 0) fail('MANIFEST_INVALID', `${input.source.description}: the index lists no image to assess`);
  await refuseUnassessed(input.source, new Set(images.map((i) => i.digest)));
  const platforms: PlatformAssessment[] = [];
  // Checks ride along the same walk; they run only when the policy asks about their findings (the time is the gate's).
  const sel = { misconfig: !!input.policy.rules.misconfigurations, secret: !!input.policy.rules.secrets };
  for (const image of images) {
    const onProgress = input.onProgress?.(image.layers.length);
    const checks =
      sel.misconfig || sel.secret
        ? prepareImageChecks(image.config, sel, input.checkSettings ?? DEFAULT_SETTINGS, input.now)
        : undefined;
    const inv = await inventoryImage(image, {
      ...input.limits,
      ...(onProgress ? { onProgress } : {}),
      ...(checks ? { collectors: checks.collectors, inspect: checks.inspect } : {}),
    });
    platforms.push(await assessInventory(inv, input, checks?.finish(inv)));
  }
  return { pass: platforms.every((p) => p.decision.pass), platforms, database: input.database };
}

async function assessInventory(
  inv: Inventory,
  input: AssessInput,
  checks: CheckResult | undefined,
): Promise<PlatformAssessment> {
  const fatal = inv.unknowns.find((u) => u.fatal);
  if (fatal) {
    fail(fatal.code ?? 'LAYER_INVALID', `${inv.subject.source}: ${describeUnknown(fatal)}`);
  }
  for (const u of inv.unknowns.slice(0, 20)) input.warn(describeUnknown(u));
  const signatures = input.signaturesFor ? await input.signaturesFor(imageFactsOf(inv.subject)) : undefined;
  const { findings, decision, problems } = decideInventory(inv, {
    policy: input.policy,
    advisories: input.advisories,
    vex: input.vex,
    now: input.now,
    ...(checks ? { checks } : {}),
    // The gate signs the image itself: image-unsigned is not checked here.
    skipped: checks ? [...skippedRules(input.checkSettings ?? DEFAULT_SETTINGS, false), ...(checks.skipped ?? [])] : [],
    ...(signatures ? { signatures } : {}),
    settings: settingsUsed(input.checkSettings),
  });
  for (const p of [...problems.slice(0, 20), ...(checks?.notes ?? [])]) input.warn(p);
  for (const w of decision.warnings) input.warn(`policy: ${w}`);
  return { inv, findings, decision };
}

/**
 * The copy promotes the whole tree under the digest, so every runnable image in it must be among those assessed
 * (resolveImages descends nested indexes; this walk checks that it reached every image they list).
 */
async function refuseUnassessed(source: ImageSource, assessed: ReadonlySet<string>): Promise<void> {
  const walk = async (m: FetchedManifest, depth: number): Promise<void> => {
    if (m.manifest.kind === 'image') {
      if (!assessed.has(m.digest)) {
        fail('MANIFEST_INVALID', `${source.description}: image ${m.digest} would be promoted without being assessed`);
      }
      return;
    }
    if (depth >= MAX_INDEX_DEPTH) {
      fail('MANIFEST_INVALID', `${source.description}: indexes nested more than ${MAX_INDEX_DEPTH} deep`);
    }
    for (const d of m.manifest.manifests) {
      if (INDEX_TYPES.has(d.mediaType)) {
        // An index under an unknown platform is no build attestation: pulled by its digest, it runs what it lists.
        if (isUnrunnableEntry(d)) {
          fail(
            'MANIFEST_INVALID',
            `${source.description}: index ${m.digest} lists the index ${d.digest} under platform unknown; the gate promotes only what it assessed`,
          );
        }
        await walk(await source.manifest(d), depth + 1);
      } else if (isUnrunnableEntry(d))
        continue; // build attestations (unknown/unknown): copied, never run
      else if (!assessed.has(d.digest)) {
        fail(
          'MANIFEST_INVALID',
          `${source.description}: index ${m.digest} lists ${d.digest}, which the assessment did not reach; the gate promotes only what it assessed`,
        );
      }
    }
  };
  await walk(await source.root(), 0);
}
