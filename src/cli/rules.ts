import { Command, Option } from 'commander';
import { allRules } from '../checks/registry.js';
import { DRIFT_RULES } from '../ci/drift.js';
import { CI_RULES } from '../ci/rules/index.js';
import { PortcullisError } from '../errors.js';
import { K8S_RULES } from '../k8s/rules/index.js';
import { rulesTable } from '../report/checks-table.js';
import { renderTable } from '../report/sbom/table.js';

/** What `--kind` takes: `image` stands for misconfiguration and secret rules. */
export const RULE_KINDS = ['image', 'misconfiguration', 'secret', 'ci', 'kubernetes'] as const;
type Kind = (typeof RULE_KINDS)[number];

/** Every registered rule as `rules -f json` prints it (image rules exactly as before, the others after them). */
export function listRules(kinds: ReadonlySet<Kind>): Record<string, unknown>[] {
  const want = (k: Kind) => kinds.size === 0 || kinds.has(k);
  const image = allRules().filter((r) => want('image') || want(r.kind));
  const ci = want('ci')
    ? [
        ...CI_RULES.map((r) => ({
          id: r.id,
          kind: 'ci',
          title: r.title,
          severity: r.severity,
          confidence: r.confidence,
          platforms: r.platforms ?? ['github', 'gitlab', 'jenkins'],
          rationale: r.rationale,
          remediation: r.remediation,
        })),
        ...DRIFT_RULES.map((r) => ({ ...r, kind: 'ci-drift' })),
      ]
    : [];
  const k8s = want('kubernetes')
    ? K8S_RULES.map((r) => ({
        id: r.id,
        kind: 'kubernetes',
        group: r.group,
        title: r.title,
        severity: r.severity,
        confidence: r.confidence,
        ...(r.mapping ? { mapping: r.mapping } : {}),
        rationale: r.rationale,
        remediation: r.remediation,
      }))
    : [];
  return [...image.map((r) => ({ ...r })), ...ci, ...k8s];
}

/** One table per family (their columns differ), the image rules' first and as they always were. */
function tables(kinds: ReadonlySet<Kind>): string {
  const want = (k: Kind) => kinds.size === 0 || kinds.has(k);
  const out: string[] = [];
  const image = allRules().filter((r) => want('image') || want(r.kind));
  if (image.length) out.push(rulesTable(image));
  if (want('ci'))
    out.push(
      renderTable(
        ['ID', 'KIND', 'SEVERITY', 'CONFIDENCE', 'PLATFORMS', 'TITLE'],
        [
          ...CI_RULES.map((r) => [
            r.id,
            'ci',
            r.severity,
            r.confidence,
            (r.platforms ?? ['github', 'gitlab', 'jenkins']).join(','),
            r.title,
          ]),
          ...DRIFT_RULES.map((r) => [r.id, 'ci-drift', r.severity, '', 'all', r.title]),
        ],
      ),
    );
  if (want('kubernetes') && K8S_RULES.length)
    out.push(
      renderTable(
        ['ID', 'GROUP', 'SEVERITY', 'CONFIDENCE', 'MAPPING', 'TITLE'],
        K8S_RULES.map((r) => [r.id, r.group, r.severity, r.confidence, r.mapping ?? '', r.title]),
      ),
    );
  return out.join('\n');
}

function parseKinds(values: readonly string[]): Set<Kind> {
  const out = new Set<Kind>();
  for (const v of values.flatMap((x) => x.split(',')).map((x) => x.trim())) {
    if (!(RULE_KINDS as readonly string[]).includes(v))
      throw new PortcullisError('USAGE', `--kind: '${v.slice(0, 40)}' is not one of ${RULE_KINDS.join(', ')}`);
    out.add(v as Kind);
  }
  return out;
}

export function rulesCommand(): Command {
  return new Command('rules')
    .description(
      'list every rule: image misconfiguration and secret rules (with their CIS Docker Benchmark and Dockle mapping), CI pipeline rules and Kubernetes checks',
    )
    .addOption(new Option('-f, --format <format>', 'output format').choices(['table', 'json']).default('table'))
    .addOption(
      new Option('-k, --kind <kind...>', `only these kinds: ${RULE_KINDS.join(', ')} (repeat or comma-separate)`),
    )
    .action((flags: { format: 'table' | 'json'; kind?: string[] }) => {
      const kinds = parseKinds(flags.kind ?? []);
      process.stdout.write(flags.format === 'json' ? `${JSON.stringify(listRules(kinds), null, 2)}\n` : tables(kinds));
    });
}
