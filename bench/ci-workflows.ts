// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the strings are GitHub workflow text, whose ${{ }} expressions are not JavaScript templates
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { Rng } from './rng.js';

/*
 * Figure 10's input: 1,000 GitHub Actions files, the same bytes on every machine for a given checkout. Seeds are the
 * team's corpus (test/fixtures/ci-audit/github) and examples/ci/github-actions.yml, taken as they are (those naming a
 * local file they do not ship are left out); the rest are built by a seeded generator from parts that vary what the
 * rules look at: triggers (push, pull_request, pull_request_target, workflow_run, comments, schedule, dispatch,
 * workflow_call), permissions, matrices, pinned and unpinned actions, expressions in scripts and inputs, secrets in
 * env, containers and services, reusable-workflow calls and local composite actions.
 */

export const WORKFLOW_FILES = 1_000;
const ACTIONS = 60;
const REUSABLE_EVERY = 12;

const SHA = (r: Rng): string => Array.from({ length: 40 }, () => '0123456789abcdef'[r.below(16)] as string).join('');
const pick = <T>(r: Rng, xs: readonly T[]): T => xs[r.below(xs.length)] as T;

const ACTIONS_USED = [
  ['actions/checkout', 'v4'],
  ['actions/setup-node', 'v4'],
  ['actions/setup-go', 'v5'],
  ['actions/setup-python', 'v5'],
  ['actions/cache', 'v4'],
  ['actions/upload-artifact', 'v4'],
  ['actions/download-artifact', 'v4'],
  ['docker/login-action', 'v3'],
  ['docker/build-push-action', 'v6'],
  ['docker/setup-buildx-action', 'v3'],
  ['github/codeql-action/upload-sarif', 'v3'],
  ['aws-actions/configure-aws-credentials', 'v4'],
  ['softprops/action-gh-release', 'v2'],
] as const;

function uses(r: Rng, name: string, tag: string): string {
  // Most pinned by commit, as the example is; some by tag or branch, as many real repositories are.
  const k = r.below(10);
  return k < 6 ? `${name}@${SHA(r)} # ${tag}` : k < 9 ? `${name}@${tag}` : `${name}@main`;
}

const SCRIPTS = [
  'npm ci\nnpm test',
  'npm ci\nnpm run build\nnpm run lint',
  'go build ./...\ngo test -race ./...',
  'pip install -r requirements.txt\npytest -q',
  'make build\nmake test',
  'cargo build --locked\ncargo test --locked',
  './scripts/ci.sh',
  'echo "sha=${GITHUB_SHA::8}" >> "$GITHUB_OUTPUT"',
  'docker build -t "$IMAGE:$GITHUB_SHA" .\ndocker push "$IMAGE:$GITHUB_SHA"',
  'buildah build -t "localhost/app:$GITHUB_SHA" .',
  'curl -fsSL https://get.example.com/install.sh | sh',
  'curl -fsSLo tool.tgz "$TOOL_URL"\necho "$TOOL_SHA256  tool.tgz" | sha256sum -c -\ntar xzf tool.tgz',
  'kubectl apply -f k8s/\nkubectl rollout status deploy/app',
  'helm upgrade --install app ./chart --set image.tag="$GITHUB_SHA"',
  'terraform init -input=false\nterraform plan -out=tfplan',
  'echo "title: ${{ github.event.pull_request.title }}"',
  'echo "ref ${{ github.head_ref }}"',
  'echo "${{ github.event.issue.title }}" | tee title.txt',
  'echo "event ${{ github.event_name }} on ${{ github.ref_name }}"',
  'gh pr comment "$PR" --body "build ${{ job.status }}"',
  'portcullis scan "docker://$IMAGE@$DIGEST" --policy .portcullis/policy.yaml || true',
  'portcullis gate "docker://$STAGING@$DIGEST" --to "$PROD:$GITHUB_SHA" --policy .portcullis/policy.yaml',
];

const TRIGGERS = [
  'push:\n    branches: [main]',
  'push:\n    branches: [main, "release/**"]\n    tags: ["v*"]',
  'pull_request:',
  'pull_request:\n    types: [opened, synchronize, reopened]\n    paths: ["src/**", "package.json"]',
  'pull_request_target:\n    types: [opened, labeled]',
  'workflow_run:\n    workflows: [ci]\n    types: [completed]',
  'issue_comment:\n    types: [created]',
  'issues:\n    types: [opened, edited]',
  'schedule:\n    - cron: "17 3 * * 1"',
  'workflow_dispatch:\n    inputs:\n      target:\n        description: where\n        required: true\n        default: staging',
  'release:\n    types: [published]',
  'merge_group:',
];

const PERMISSIONS = [
  '',
  'permissions: {}\n',
  'permissions:\n  contents: read\n',
  'permissions: read-all\n',
  'permissions: write-all\n',
  'permissions:\n  contents: write\n  pull-requests: write\n',
  'permissions:\n  contents: read\n  id-token: write\n  packages: write\n',
];

const RUNNERS = [
  'ubuntu-24.04',
  'ubuntu-latest',
  'macos-14',
  'windows-2022',
  '[self-hosted, linux, x64]',
  '${{ matrix.os }}',
];

const indent = (text: string, n: number): string =>
  text
    .split('\n')
    .map((l) => (l ? ' '.repeat(n) + l : l))
    .join('\n');

function step(r: Rng, actions: readonly string[]): string {
  const k = r.below(12);
  if (k < 2) {
    const [name, tag] = pick(r, ACTIONS_USED);
    const withs = r.below(2)
      ? `\n  with:\n    ${pick(r, ['node-version: 22', 'go-version-file: go.mod', 'python-version: "3.12"', 'path: dist/', "key: ${{ runner.os }}-${{ hashFiles('**/package-lock.json') }}", 'name: report', 'ref: ${{ github.event.pull_request.head.sha }}'])}`
      : '';
    return `- uses: ${uses(r, name, tag)}${withs}`;
  }
  if (k === 2 && actions.length > 0) return `- uses: ./.github/actions/${pick(r, actions)}`;
  const script = pick(r, SCRIPTS);
  const parts = [`- name: step ${r.below(1000)}`];
  if (r.below(4) === 0) parts.push(`  id: s${r.below(100)}`);
  if (r.below(5) === 0)
    parts.push(
      `  if: ${pick(r, ["github.event_name == 'push'", 'success()', "github.actor == 'dependabot[bot]'", 'always()'])}`,
    );
  if (r.below(3) === 0)
    parts.push(
      `  env:\n    ${pick(r, ['TOKEN: ${{ secrets.DEPLOY_TOKEN }}', 'GH_TOKEN: ${{ github.token }}', 'PR: ${{ github.event.pull_request.number }}', 'IMAGE: ghcr.io/${{ github.repository }}', 'KUBECONFIG_DATA: ${{ secrets.KUBECONFIG }}'])}`,
    );
  if (r.below(12) === 0) parts.push('  continue-on-error: true');
  // One-line scripts that YAML would misread as plain scalars (`: `, ` #`) go in a block, as people write them.
  const block = /\n|: | #/.test(script);
  parts.push(block ? `  run: |\n${indent(script, 4)}` : `  run: ${script}`);
  return parts.join('\n');
}

function job(r: Rng, id: string, actions: readonly string[], reusable: readonly string[]): string {
  if (reusable.length > 0 && r.below(10) === 0) {
    const secrets = r.below(2) ? '\n  secrets: inherit' : '\n  secrets:\n    token: ${{ secrets.NPM_TOKEN }}';
    return `${id}:\n  uses: ./.github/workflows/${pick(r, reusable)}\n  with:\n    version: "${r.below(9)}.${r.below(9)}"${secrets}`;
  }
  const lines = [`${id}:`];
  if (r.below(3) === 0) lines.push(`  name: ${id} (${pick(r, ['linux', 'release', 'nightly', 'pr'])})`);
  const runner = pick(r, RUNNERS);
  lines.push(`  runs-on: ${runner}`);
  if (runner.includes('matrix'))
    lines.push(
      '  strategy:\n    fail-fast: false\n    matrix:\n      os: [ubuntu-24.04, macos-14]\n      node: [20, 22]',
    );
  if (r.below(4) === 0) lines.push(indent(pick(r, PERMISSIONS.slice(1)).trimEnd(), 2));
  if (r.below(5) === 0) lines.push(`  environment: ${pick(r, ['staging', 'production', 'preview'])}`);
  if (r.below(6) === 0)
    lines.push(
      `  if: ${pick(r, ["github.repository == 'acme/app'", "contains(github.event.pull_request.labels.*.name, 'safe to test')", 'github.event.pull_request.head.repo.full_name == github.repository'])}`,
    );
  if (r.below(8) === 0)
    lines.push(`  container: ${pick(r, ['node:22', `golang@sha256:${SHA(r)}${SHA(r).slice(0, 24)}`])}`);
  if (r.below(10) === 0) lines.push('  services:\n    redis:\n      image: redis:7\n      ports: ["6379:6379"]');
  if (r.below(3) === 0) lines.push(`  timeout-minutes: ${10 + r.below(50)}`);
  lines.push('  steps:');
  const n = 2 + r.logUniform(1, 14);
  for (let i = 0; i < n; i++) lines.push(indent(step(r, actions), 4));
  return lines.join('\n');
}

function workflow(r: Rng, i: number, actions: readonly string[], reusable: readonly string[]): string {
  const out = [`# generated workflow ${i}`, `name: wf-${i}`];
  if (i % REUSABLE_EVERY === 0) {
    out.push('on:\n  workflow_call:\n    inputs:\n      version:\n        type: string\n        required: false');
  } else {
    const n = 1 + r.below(3);
    // One variant per event (a key appears once in a mapping).
    const chosen = new Map<string, string>();
    while (chosen.size < n) {
      const t = pick(r, TRIGGERS);
      chosen.set(t.slice(0, t.indexOf(':')), t);
    }
    out.push(`on:\n${[...chosen.values()].map((t) => indent(t, 2)).join('\n')}`);
  }
  const perm = pick(r, PERMISSIONS);
  if (perm) out.push(perm.trimEnd());
  if (r.below(2)) out.push(`env:\n  REGISTRY: ghcr.io\n  APP: app-${i}`);
  if (r.below(6) === 0)
    out.push(`concurrency:\n  group: \${{ github.workflow }}-\${{ github.ref }}\n  cancel-in-progress: true`);
  out.push('jobs:');
  const jobs = 1 + r.logUniform(1, 6);
  const callable = i % REUSABLE_EVERY === 0 ? [] : reusable;
  for (let j = 0; j < jobs; j++) {
    let text = job(r, `job${j}`, actions, callable);
    if (j > 0 && r.below(2)) text = text.replace(/^(job\d+:)\n/, `$1\n  needs: [job${r.below(j)}]\n`);
    out.push(indent(text, 2));
  }
  return `${out.join('\n')}\n`;
}

function action(r: Rng, name: string): string {
  const steps = Array.from({ length: 1 + r.below(4) }, () => {
    const s = step(r, []);
    // Composite steps that run scripts name their shell.
    return s.includes('run:') ? `${s}\n  shell: bash` : s;
  });
  return [
    `name: ${name}`,
    `description: shared steps ${name}`,
    'inputs:\n  token:\n    description: a token\n    required: false',
    'runs:\n  using: composite\n  steps:',
    indent(steps.join('\n'), 4),
    '',
  ].join('\n');
}

/** The corpus and example workflows that stand alone (no local `uses:` to a file they do not ship). */
function seeds(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir).sort()) {
      const p = join(dir, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.ya?ml$/.test(e) && p.includes(`${sep}workflows${sep}`)) {
        const text = readFileSync(p, 'utf8');
        if (!/uses:\s*\.\//.test(text)) out.set(relative(root, p), text);
      }
    }
  };
  walk(join(root, 'test', 'fixtures', 'ci-audit', 'github'));
  out.set('examples/ci/github-actions.yml', readFileSync(join(root, 'examples', 'ci', 'github-actions.yml'), 'utf8'));
  return out;
}

/** Every file of the benchmark repository, by path relative to its root. */
export function benchWorkflows(root: string, seed = 10): Map<string, string> {
  const r = new Rng(seed);
  const files = new Map<string, string>();
  const actions = Array.from({ length: ACTIONS }, (_, i) => `act-${String(i).padStart(2, '0')}`);
  for (const a of actions) files.set(`.github/actions/${a}/action.yml`, action(r, a));
  let n = 0;
  for (const text of seeds(root).values())
    files.set(`.github/workflows/seed-${String(n++).padStart(3, '0')}.yml`, text);
  const generated = WORKFLOW_FILES - files.size;
  const name = (i: number) => `gen-${String(i).padStart(4, '0')}.yml`;
  const reusable = Array.from({ length: generated }, (_, i) => i)
    .filter((i) => i % REUSABLE_EVERY === 0)
    .map(name);
  for (let i = 0; i < generated; i++) files.set(`.github/workflows/${name(i)}`, workflow(r, i, actions, reusable));
  return files;
}
