import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { PortcullisError } from '../errors.js';
import { loadK8sConfig } from '../k8s/config.js';
import { loadPaths } from '../k8s/load.js';
import { describeObject } from '../k8s/model.js';
import { planFixes } from '../k8s/placement/fix.js';
import { renderJson, renderKubectl, renderYaml } from '../k8s/placement/render.js';
import { k8sErrorLine } from '../k8s/report.js';
import { K8S_RULES } from '../k8s/rules/index.js';
import { setCommandExitCode } from './exitcode.js';

interface FixFlags {
  config?: string;
  format: 'yaml' | 'json' | 'kubectl';
  output?: string;
}

/** `portcullis k8s placement fix`: a generator, so it exits 0 with patches; unreadable input fails it (exit 2). */
export function placementCommand(): Command {
  const cmd = new Command('placement').description(
    'sensitivity-level placement: the patches that pin workloads to the nodes of their level',
  );
  const fix = new Command('fix')
    .description(
      'write the patches (nodeSelector on the protected node label, the level toleration, tolerations of other levels removed) that bring each workload of a known level into line',
    )
    .argument('<paths...>', 'manifest files and directories, cluster dumps (kubectl get -o json|yaml)')
    .option('--config <file>', 'the sensitivity levels and label keys (schemas/k8s.schema.json); required')
    .addOption(
      new Option('-f, --format <format>', 'yaml: strategic-merge patches; json: RFC 6902 patches; kubectl: commands')
        .choices(['yaml', 'json', 'kubectl'])
        .default('yaml'),
    )
    .option('-o, --output <file>', 'write to FILE instead of stdout')
    .action(async (paths: string[], flags: FixFlags) => {
      setCommandExitCode(await runPlacementFix(paths, flags));
    });
  cmd.addCommand(fix.exitOverride());
  return cmd.exitOverride();
}

async function runPlacementFix(paths: string[], flags: FixFlags): Promise<number> {
  if (flags.config === undefined)
    throw new PortcullisError('USAGE', 'k8s placement fix needs --config FILE with the sensitivity levels');
  const config = loadK8sConfig(resolve(flags.config), { knownRules: K8S_RULES.map((r) => r.id) });
  if (!config.sensitivity)
    throw new PortcullisError('CONFIG_INVALID', `${flags.config}: no sensitivity section (sensitivity.levels)`);
  const loaded = await loadPaths(paths);
  // Fail closed: patches for part of the input would read as the whole fix.
  for (const e of loaded.errors) process.stderr.write(`portcullis: K8S_INVALID: ${k8sErrorLine(e)}\n`);
  if (loaded.errors.length) return 2;
  if (loaded.files.length === 0)
    throw new PortcullisError('NOT_FOUND', `no manifests (.yaml, .yml, .json) under ${paths.join(', ')}`);
  const { plans, skipped } = planFixes(loaded.objects, config.sensitivity);
  const text =
    flags.format === 'json' ? renderJson(plans) : flags.format === 'kubectl' ? renderKubectl(plans) : renderYaml(plans);
  if (flags.output) await writeFile(flags.output, text);
  else process.stdout.write(text);
  for (const s of skipped) {
    const at = s.object.locate([]);
    process.stderr.write(
      `portcullis: skipped ${describeObject(s.object)} (${s.object.source.file}:${at.line}): ${s.reason}\n`,
    );
  }
  process.stderr.write(
    `portcullis: ${plans.length} patch${plans.length === 1 ? '' : 'es'}; ${skipped.length} workload${skipped.length === 1 ? '' : 's'} without a known level skipped\n`,
  );
  return 0;
}
