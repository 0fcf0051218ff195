import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { auditLoaded } from '../k8s/audit.js';
import type { NodeFiles } from '../k8s/cis/node.js';
import { loadCluster } from '../k8s/cluster.js';
import { loadK8sConfig, type PssLevel } from '../k8s/config.js';
import { loadPaths } from '../k8s/load.js';
import { k8sErrorLine, k8sJson, k8sSarif, k8sTable } from '../k8s/report.js';
import { K8S_RULES } from '../k8s/rules/index.js';
import { addReportOptions, collect, documentTime, parseExitCode, parseSeverityList } from './common.js';
import { setCommandExitCode } from './exitcode.js';
import { placementCommand } from './k8splacement.js';
import { webhookCommand } from './k8swebhook.js';

interface AuditFlags {
  format: 'table' | 'json' | 'sarif';
  output?: string;
  severity?: string;
  exitCode: string;
  config?: string;
  pssLevel?: PssLevel;
  nodeRoot: string[];
  cluster?: boolean;
  kubeconfig?: string;
  context?: string;
}

export function k8sCommand(): Command {
  const cmd = new Command('k8s').description(
    'Kubernetes security: Pod Security Standards, segmentation, RBAC, images, sensitivity placement and CIS node checks',
  );
  const audit = addReportOptions(new Command('audit'))
    .description(
      'audit manifests (multi-document YAML, Helm and kustomize output) and cluster dumps (kubectl get -o json|yaml) against the Pod Security Standards, namespace and network segmentation, RBAC, image provenance, sensitivity placement, and the CIS Kubernetes Benchmark for node files',
    )
    .argument('[paths...]', 'manifest files and directories (directories are walked for .yaml, .yml and .json)')
    .addOption(
      new Option(
        '--pss-level <level>',
        "hold every pod to this level (default: the namespace's enforce label, else the config's pssLevel, else baseline)",
      ).choices(['baseline', 'restricted']),
    )
    .option(
      '--config <file>',
      'production registries, sensitivity levels, PSS level, ignores (schemas/k8s.schema.json)',
    )
    .option(
      '--node-root <dir>',
      "a node's file system (its / : static pod manifests, kubelet configuration) for the CIS checks; repeatable",
      collect,
      [],
    )
    .option(
      '--cluster',
      'read the live cluster through the kubeconfig (KUBECONFIG, else ~/.kube/config): every kind the checks read, read-only',
    )
    .option('--kubeconfig <file>', 'the kubeconfig for --cluster')
    .option('--context <name>', 'the kubeconfig context for --cluster (default: its current-context)')
    .action(async (paths: string[], flags: AuditFlags) => {
      setCommandExitCode(await runK8sAudit(paths, flags));
    });
  cmd.addCommand(audit.exitOverride());
  cmd.addCommand(webhookCommand());
  cmd.addCommand(placementCommand());
  return cmd;
}

async function runK8sAudit(paths: string[], flags: AuditFlags): Promise<number> {
  const exitCode = parseExitCode(flags.exitCode);
  const wanted = parseSeverityList(flags.severity);
  const config = loadK8sConfig(flags.config === undefined ? undefined : resolve(flags.config), {
    knownRules: K8S_RULES.map((r) => r.id),
  });
  const nodes: NodeFiles[] = flags.nodeRoot.map((d) => ({ root: resolve(d), shown: d }));
  const inputs = paths.length === 0 && nodes.length === 0 && !flags.cluster ? ['.'] : paths;
  const files = await loadPaths(inputs);
  if (flags.cluster) {
    const live = await loadCluster({
      ...(flags.kubeconfig !== undefined ? { kubeconfig: resolve(flags.kubeconfig) } : {}),
      ...(flags.context !== undefined ? { context: flags.context } : {}),
    });
    files.objects.push(...live.objects);
    files.errors.push(...live.errors);
    files.files.push(...live.files);
  }
  const result = auditLoaded(files, {
    config,
    nodes,
    ...(flags.pssLevel ? { pssLevel: flags.pssLevel } : {}),
  });
  const shown = wanted ? result.findings.filter((f) => wanted.includes(f.severity)) : result.findings;
  const view = { result, shown, created: documentTime() };
  const text = flags.format === 'json' ? k8sJson(view) : flags.format === 'sarif' ? k8sSarif(view) : k8sTable(view);
  if (flags.output) await writeFile(flags.output, text);
  else process.stdout.write(text);
  // Fail closed: a file that could not be read is never a clean pass.
  for (const e of result.errors) process.stderr.write(`portcullis: K8S_INVALID: ${k8sErrorLine(e)}\n`);
  if (result.errors.length) return 2;
  return shown.length > 0 ? exitCode : 0;
}
