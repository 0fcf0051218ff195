import type { Finding, FindingKind } from '../findings/finding.js';
import type { Collector } from '../image/collect.js';
import type { FileTree } from '../image/filetree.js';
import type { Inventory } from '../inventory/image.js';
import type { ImageConfig } from '../oci/manifest.js';
import type { SkippedRule } from '../policy/model.js';
import { SECRET_RULES } from '../secrets/rules.js';
import { SecretScanner } from '../secrets/scanner.js';
import type { IgnoreEntry } from './config.js';
import { runMisconfigRules, secretFindings, type Targets } from './engine.js';
import { checkFilesCollector } from './files.js';
import { stepsFromHistory } from './history.js';
import type { CheckResult, Instruction } from './model.js';
import { MISCONFIG_RULES } from './rules/index.js';
import type { CheckSettings } from './settings.js';

/** Which checks run besides vulnerability matching. */
export interface CheckSelection {
  readonly misconfig: boolean;
  readonly secret: boolean;
}

/** A Dockerfile given with the image: its build rules replace those on the image history. */
export interface DockerfileInput {
  readonly path: string;
  readonly text: string;
  readonly steps: readonly Instruction[];
  readonly ignores: readonly IgnoreEntry[];
}

/** The checks of one image, riding along the inventory's single pass over the layers. */
export interface ImageChecks {
  /** Collectors to add to the walk (`inventoryImage(image, { collectors, inspect })`). */
  readonly collectors: readonly Collector[];
  readonly inspect: (tree: FileTree) => void;
  /** After the walk: every misconfiguration and secret finding of the image. */
  finish(inv: Inventory): CheckResult;
}

export function prepareImageChecks(
  config: ImageConfig,
  sel: CheckSelection,
  settings: CheckSettings,
  now: Date,
  dockerfile?: DockerfileInput,
): ImageChecks {
  const scanner = sel.secret ? new SecretScanner(settings.secrets) : undefined;
  let tree: FileTree | undefined;
  const collectors: Collector[] = [];
  if (sel.misconfig) collectors.push(checkFilesCollector);
  if (scanner) collectors.push(scanner);
  return {
    collectors,
    inspect: (t) => {
      tree = t;
    },
    finish(inv) {
      if (!tree) throw new Error('image checks finished before the walk handed over its tree');
      const targets: Targets = {
        image: inv.subject.digest ? `${inv.subject.source}@${inv.subject.digest}` : inv.subject.source,
        ...(dockerfile ? { dockerfile: dockerfile.path } : {}),
        diffIds: inv.subject.layers.map((l) => l.diffId),
      };
      const findings: Finding[] = [];
      const checks: FindingKind[] = [];
      const buildNotes: string[] = [];
      const skipped: SkippedRule[] = [];
      if (sel.misconfig) {
        checks.push('misconfiguration');
        const build = dockerfile
          ? { steps: dockerfile.steps, from: 'dockerfile' as const, path: dockerfile.path, settings }
          : { steps: stepsFromHistory(config), from: 'history' as const, settings };
        const image = { subject: inv.subject, config, tree, os: inv.os, packages: inv.packages, settings, now };
        findings.push(...runMisconfigRules({ image, build }, targets));
        const unread = unreadHistory(build.steps, build.from);
        if (unread) {
          buildNotes.push(unread);
          // Rules that read only the build steps said nothing because there was nothing to read: a policy naming
          // one must not take that as clean (crane, ko and Bazel images carry no history; it can also be stripped).
          for (const r of MISCONFIG_RULES) {
            if (r.checkBuild && !r.checkImage && !settings.disabled.includes(r.id))
              skipped.push({ id: r.id, reason: 'the image history holds no build step to read; give --dockerfile' });
          }
        }
      }
      if (scanner) {
        checks.push('secret');
        const hits = [...scanner.finish(tree), ...scanner.scanConfig(config)];
        if (dockerfile) hits.push(...scanner.scanText(dockerfile.text, dockerfile.path));
        findings.push(...secretFindings(hits, SECRET_RULES, targets));
      }
      tree = undefined;
      return { findings, checks, notes: [...buildNotes, ...(scanner?.notes() ?? [])], skipped };
    },
  };
}

/**
 * The rules that cannot run on this image with these settings, and why. A policy that names one of them outright gets
 * an error, not a pass (src/policy/ruleids.ts). `signatureChecked`: the caller verified the image signature (scan with
 * --trust-policy on a registry image); only then did image-unsigned run.
 */
export function skippedRules(settings: CheckSettings, signatureChecked: boolean): SkippedRule[] {
  const out: SkippedRule[] = settings.disabled.map((id) => ({ id, reason: 'disabled in the check settings' }));
  if (settings.maxImageAgeDays === undefined)
    out.push({ id: 'image-too-old', reason: 'maxImageAge is not set in the check settings' });
  if (settings.approvedRegistries.length === 0)
    out.push({ id: 'base-image-not-approved', reason: 'approvedRegistries is not set in the check settings' });
  if (!signatureChecked)
    out.push({ id: 'image-unsigned', reason: 'the signature check needs a registry image and --trust-policy' });
  return out;
}

/**
 * The build rules read the image history when no Dockerfile is given; an image whose history says nothing readable
 * (no entries, or only forms Portcullis does not know) passes them without being looked at, so that is said.
 */
export function unreadHistory(steps: readonly Instruction[], from: 'dockerfile' | 'history'): string | undefined {
  if (from !== 'history') return undefined;
  const known = steps.filter((s) => s.keyword !== 'UNKNOWN').length;
  if (steps.length === 0) return 'build rules: the image has no history, so they read nothing; give --dockerfile';
  if (known === 0)
    return `build rules: none of the ${steps.length} history entries is a build step Portcullis can read, so they read nothing; give --dockerfile`;
  return undefined;
}
