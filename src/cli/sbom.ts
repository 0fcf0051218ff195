import { writeFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import type { CheckResult } from '../checks/model.js';
import type { ImageChecks } from '../checks/run.js';
import { ExitCode, type ExitCodeValue, fail } from '../errors.js';
import { type Inventory, inventoryImage, inventoryRootfs } from '../inventory/image.js';
import { describeUnknown } from '../inventory/model.js';
import type { ImageConfig } from '../oci/manifest.js';
import { openLocation } from '../oci/open.js';
import { describeLocation, parseImageLocation } from '../oci/reference.js';
import { formatPlatform, resolveImages } from '../oci/source.js';
import { toCycloneDx } from '../report/sbom/cyclonedx.js';
import { toInventoryJson } from '../report/sbom/json.js';
import { toSpdx } from '../report/sbom/spdx.js';
import { toTable } from '../report/sbom/table.js';
import {
  addRegistryOptions,
  documentTime,
  parseSize,
  progressReporter,
  type RegistryFlags,
  registryOptions,
} from './common.js';
import { setCommandExitCode } from './exitcode.js';

const FORMATS = ['table', 'json', 'cyclonedx', 'cyclonedx-json', 'spdx', 'spdx-json'] as const;
type Format = (typeof FORMATS)[number];

export interface SbomFlags extends RegistryFlags {
  format: string;
  output?: string;
  platform?: string;
  allPlatforms?: boolean;
  quiet?: boolean;
  maxFileSize?: string;
  maxContentTotal?: string;
  maxLayerSize?: string;
}

/** An inventory, with the image checks that rode along its walk when some were asked for. */
export interface Inventoried {
  readonly inv: Inventory;
  readonly checks?: CheckResult;
}

/** Makes the image checks for one image (its config) or root file system (no config). */
export type ChecksFactory = (config: ImageConfig | undefined) => ImageChecks | undefined;

/**
 * Read images and root file systems and inventory them, for `sbom` and `scan`; `checks` adds the misconfiguration
 * and secret checks to the same single pass over each image's layers.
 */
export async function inventoryOf(ref: string, flags: SbomFlags, checks?: ChecksFactory): Promise<Inventoried[]> {
  const loc = parseImageLocation(ref);
  const opened = await openLocation(loc, registryOptions(flags));
  const limits = {
    ...(flags.maxFileSize ? { maxFileBytes: parseSize('--max-file-size', flags.maxFileSize) } : {}),
    ...(flags.maxContentTotal ? { maxBufferedBytes: parseSize('--max-content-total', flags.maxContentTotal) } : {}),
    ...(flags.maxLayerSize ? { maxLayerBytes: parseSize('--max-layer-size', flags.maxLayerSize) } : {}),
  };
  const walkWith = (c: ImageChecks | undefined) =>
    c ? { ...limits, collectors: c.collectors, inspect: c.inspect } : limits;
  if (opened.kind === 'rootfs') {
    const c = checks?.(undefined);
    const inv = await inventoryRootfs(opened.path, describeLocation(loc), walkWith(c));
    return [{ inv, ...(c ? { checks: c.finish(inv) } : {}) }];
  }
  try {
    const images = await resolveImages(opened.source, {
      ...(flags.platform ? { platform: flags.platform } : {}),
      ...(flags.allPlatforms ? { allPlatforms: true } : {}),
    });
    const out: Inventoried[] = [];
    for (const image of images) {
      const onProgress = progressReporter(!!flags.quiet, image.layers.length);
      const c = checks?.(image.config);
      const inv = await inventoryImage(image, { ...walkWith(c), ...(onProgress ? { onProgress } : {}) });
      out.push({ inv, ...(c ? { checks: c.finish(inv) } : {}) });
    }
    return out;
  } finally {
    await opened.source.close();
  }
}

function render(inv: Inventory, format: Format, time: Date): string {
  switch (format) {
    case 'table':
      return toTable(inv);
    case 'json':
      return `${JSON.stringify(toInventoryJson(inv, { timestamp: time }), null, 2)}\n`;
    case 'cyclonedx':
    case 'cyclonedx-json':
      return `${JSON.stringify(toCycloneDx(inv, { timestamp: time }), null, 2)}\n`;
    case 'spdx':
    case 'spdx-json':
      return `${JSON.stringify(toSpdx(inv, { timestamp: time }), null, 2)}\n`;
  }
}

export function sbomCommand(): Command {
  const cmd = new Command('sbom')
    .description('inventory an image or root file system and write an SBOM (CycloneDX 1.6, SPDX 2.3, JSON, table)')
    .argument(
      '<image>',
      'docker://host/repo:tag, host/repo@digest, oci:DIR[:ref], oci-archive:FILE, docker-archive:FILE, dir:ROOTFS',
    )
    .addOption(new Option('-f, --format <format>', 'output format').choices(FORMATS).default('table'))
    .option('-o, --output <file>', 'write to FILE instead of stdout ({platform} is replaced with --all-platforms)')
    .option('-q, --quiet', 'no progress output')
    .option('--max-file-size <size>', 'largest file whose content a cataloger reads (default 64MiB)')
    .option('--max-content-total <size>', 'most file content kept in memory for one image (default 256MiB)')
    .option('--max-layer-size <size>', 'largest uncompressed layer accepted (default 64GiB)');
  addRegistryOptions(cmd);
  cmd.action(async (ref: string, flags: SbomFlags) => {
    setCommandExitCode(await runSbom(ref, flags));
  });
  return cmd;
}

async function runSbom(ref: string, flags: SbomFlags): Promise<ExitCodeValue> {
  const inventories = (await inventoryOf(ref, flags)).map((i) => i.inv);
  const fatal = inventories.flatMap((inv) => inv.unknowns.filter((u) => u.fatal).map((u) => ({ inv, u })));
  if (fatal.length > 0) {
    // Never present a partial inventory as complete: a package database that could not be read fails the run.
    const { inv, u } = fatal[0] as (typeof fatal)[number];
    fail(u.code ?? 'LAYER_INVALID', `${inv.subject.source}: ${describeUnknown(u)}`);
  }
  for (const inv of inventories) {
    for (const u of inv.unknowns) process.stderr.write(`portcullis: warning: ${describeUnknown(u)}\n`);
  }
  const time = documentTime();
  if (inventories.length === 1) {
    const text = render(inventories[0] as Inventory, flags.format as Format, time);
    if (flags.output) await writeFile(flags.output, text);
    else process.stdout.write(text);
    return ExitCode.ok;
  }
  const used = new Map<string, number>();
  for (const inv of inventories) {
    const base = inv.subject.platform ? formatPlatform(inv.subject.platform).replaceAll('/', '-') : 'unknown';
    // Two entries can share os/arch/variant (Windows images differ by os.version): never overwrite a file.
    const n = (used.get(base) ?? 0) + 1;
    used.set(base, n);
    const platform = n === 1 ? base : `${base}-${n}`;
    const text = render(inv, flags.format as Format, time);
    if (flags.output) {
      if (!flags.output.includes('{platform}'))
        fail('USAGE', '--output needs a {platform} placeholder with --all-platforms');
      await writeFile(flags.output.replaceAll('{platform}', platform), text);
    } else {
      process.stdout.write(flags.format === 'table' ? `${text}\n` : `${JSON.stringify(JSON.parse(text))}\n`);
    }
  }
  return ExitCode.ok;
}
