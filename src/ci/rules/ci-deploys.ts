import { contextPaths, extractExpressions } from '../github/expressions.js';
import { variableRefs } from '../gitlab/vars.js';
import type { Located, Step } from '../model.js';
import { type CiHit, type CiRule, posIn, scriptLines, usesRepo } from '../rule.js';

/** Deploy commands: a tool, then (after flags) a verb that changes a cluster, cloud service or infrastructure. */
const DEPLOY_COMMAND = new RegExp(
  String.raw`(^|[\s;&|(\x60])(` +
    [
      String.raw`kubectl\b[^\n;&|]*?\s(apply|create|replace|patch|delete|set\s+image|rollout\s+restart|scale|edit)\b`,
      String.raw`oc\b[^\n;&|]*?\s(apply|create|replace|patch|rollout|set\s+image)\b`,
      String.raw`helm\b[^\n;&|]*?\s(install|upgrade|uninstall|rollback)\b`,
      String.raw`helmfile\b[^\n;&|]*?\s(apply|sync|destroy)\b`,
      String.raw`(terraform|tofu|terragrunt)\b[^\n;&|]*?\s(apply|destroy|import)\b`,
      String.raw`pulumi\b[^\n;&|]*?\s(up|destroy)\b`,
      String.raw`(cdk|serverless|sls)\s+deploy\b`,
      String.raw`argocd\s+app\s+(sync|set|create|rollback)\b`,
      String.raw`flux\s+reconcile\b`,
      String.raw`aws\s+(ecs\s+update-service|lambda\s+update-function-code|cloudformation\s+(deploy|create-stack|update-stack)|deploy\s+create-deployment|eks\s+update-kubeconfig)\b`,
      String.raw`gcloud\s+(run\s+deploy|app\s+deploy|functions\s+deploy|container\s+clusters\s+get-credentials)\b`,
      String.raw`az\s+(webapp\s+(deploy|up)|functionapp\s+deploy|aks\s+get-credentials|containerapp\s+update|deployment\s+group\s+create)\b`,
      String.raw`(fly|flyctl)\s+deploy\b`,
    ].join('|') +
    ')',
  'i',
);

/** Actions that deploy, or that put cluster credentials on the runner. */
const DEPLOY_ACTIONS = new Set([
  'azure/k8s-deploy',
  'azure/k8s-set-context',
  'azure/aks-set-context',
  'azure/webapps-deploy',
  'azure/functions-action',
  'google-github-actions/deploy-cloudrun',
  'google-github-actions/deploy-appengine',
  'google-github-actions/get-gke-credentials',
  'aws-actions/amazon-ecs-deploy-task-definition',
  'aws-actions/aws-cloudformation-github-deploy',
  'hashicorp/tfc-workflows-github',
  'deliverybot/helm',
  'wahyd4/kubectl-helm-action',
  'actions-hub/kubectl',
  'steebchen/kubectl',
]);

/** Actions that log the runner in to a cloud account (with an OIDC role or keys): the role's scope cannot be seen. */
const CLOUD_LOGIN = new Set(['aws-actions/configure-aws-credentials', 'google-github-actions/auth', 'azure/login']);

/** Secret names that are cluster or cloud credentials by convention. */
const DEPLOY_SECRET =
  /^(KUBE_?CONFIG\w*|\w*_KUBE_?CONFIG|K8S_\w+|AWS_SECRET_ACCESS_KEY|AZURE_CREDENTIALS|GCP_SA_KEY|GCP_CREDENTIALS|GOOGLE_CREDENTIALS|GOOGLE_APPLICATION_CREDENTIALS|DIGITALOCEAN_ACCESS_TOKEN|HEROKU_API_KEY|ARGOCD_AUTH_TOKEN|TF_API_TOKEN)$/i;

/** Jenkins credential bindings that put cluster or cloud credentials on the agent whatever the credential's id. */
const JENKINS_DEPLOY_BINDING =
  /^(kubeconfigFile|kubeconfigContent|withKubeConfig|withKubeCredentials|withAWS|aws|azureServicePrincipal|\[\$class: 'AmazonWebServicesCredentialsBinding')/;

/** Jenkins: `credentials('id')` in `environment`, or a `withCredentials` binding (src/ci/jenkins/parse.ts). */
function jenkinsDeploySecrets(key: string, l: Located): string[] {
  const ids = [...l.value.matchAll(/\bcredentials(?:Id)?\s*[:(]\s*'([^']*)'/g)].map((m) => m[1] as string);
  if (ids.length === 0 && !JENKINS_DEPLOY_BINDING.test(l.value)) return [];
  const norm = (id: string) => id.replace(/[^\w]/g, '_');
  const hit = ids.filter((id) => DEPLOY_SECRET.test(norm(id))).map((id) => `credential '${id}'`);
  if (hit.length === 0 && (DEPLOY_SECRET.test(key) || JENKINS_DEPLOY_BINDING.test(l.value)))
    hit.push(ids.length ? `credential '${ids[0]}' as ${key}` : `${l.value.slice(0, 60)}`);
  return hit;
}

function deploySecrets(l: Located, gitlab = false): string[] {
  const out: string[] = [];
  // GitLab: CI/CD variables read as $NAME in scripts and variables.
  if (gitlab)
    return [
      ...new Set(
        variableRefs(l.value)
          .filter((r) => DEPLOY_SECRET.test(r.name))
          .map((r) => r.name),
      ),
    ];
  for (const e of extractExpressions(l.value))
    for (const p of contextPaths(e.inner)) {
      const m = /^secrets\.(.+)$/.exec(p);
      if (m && DEPLOY_SECRET.test(m[1] as string)) out.push((m[1] as string).toUpperCase());
    }
  return out;
}

/**
 * The design Portcullis checks for (docs/ci.md): CI builds and pushes to staging; the gate promotes; an orchestrator
 * pulls signed images. CI that deploys holds cluster or cloud credentials a pull request or a compromised action can
 * reach.
 */
/** A step that starts a local, throwaway cluster for tests: kind, minikube or k3d, by action or by command. */
function createsLocalCluster(s: Step): boolean {
  const uses = (s.uses?.value ?? '').replace(/@.*/, '').toLowerCase();
  if (
    [
      'helm/kind-action',
      'medyagh/setup-minikube',
      'manusa/actions-setup-minikube',
      'nolar/setup-k3d-k3s',
      'abatilo/actions-k3d',
    ].includes(uses) ||
    uses.startsWith('container-tools/kind-action')
  )
    return true;
  return /\b(?:kind\s+create\s+cluster|minikube\s+start|k3d\s+cluster\s+create)\b/.test(s.run?.value ?? '');
}

export const ciDeploys: CiRule = {
  id: 'ci-deploys',
  title: 'CI deploys, or holds cluster or cloud deploy credentials',
  severity: 'high',
  confidence: 'high',
  rationale:
    'A pipeline that deploys holds credentials to the cluster or cloud, so anyone who can change the workflow, or compromise one action or build tool it runs, can deploy anything; an image that passed no gate reaches production.',
  remediation:
    'Let CI build and push to a staging repository only; promote with `portcullis gate`, and let the cluster (an orchestrator such as Argo CD or Flux, with admission control) pull signed images. Remove cluster and cloud deploy credentials from CI.',
  check(w) {
    const hits: CiHit[] = [];
    const seen = new Set<string>();
    const secretHits = (where: string, vals: Readonly<Record<string, Located>>): void => {
      for (const [key, l] of Object.entries(vals)) {
        const names =
          w.platform === 'jenkins' ? jenkinsDeploySecrets(key, l) : deploySecrets(l, w.platform === 'gitlab');
        // Jenkins: a binding reaches every step it wraps; one finding, at the binding.
        const at = `${l.pos.line}:${l.pos.column}`;
        if (w.platform === 'jenkins' && names.length && seen.has(at)) continue;
        seen.add(at);
        if (names.length)
          hits.push({
            pos: l.pos,
            severity: 'medium',
            message: `${where}: reads ${names.join(', ')}, a cluster or cloud credential by its name`,
          });
      }
    };
    secretHits('workflow env', w.env);
    for (const job of w.jobs) {
      secretHits(`job ${job.id} env`, job.env);
      // A job that makes its own throwaway cluster (kind, minikube, k3d) and deploys into it is a test, not a deploy,
      // unless it also holds deploy credentials (reported above, by name).
      const ownCluster = job.steps.some(createsLocalCluster);
      for (const s of job.steps) {
        const step = `job ${job.id}, step ${s.name ?? s.id ?? s.index + 1}`;
        secretHits(step, { ...s.env, ...s.with, ...(w.platform === 'gitlab' && s.run ? { run: s.run } : {}) });
        const repo = s.uses ? usesRepo(s.uses.value) : undefined;
        if (s.uses && repo && DEPLOY_ACTIONS.has(repo))
          hits.push({ pos: s.uses.pos, message: `${step}: uses ${repo}, which deploys or sets cluster credentials` });
        else if (s.uses && repo && CLOUD_LOGIN.has(repo))
          hits.push({
            pos: s.uses.pos,
            severity: 'medium',
            confidence: 'medium',
            message: `${step}: uses ${repo}: the job logs in to a cloud account, with a role whose scope cannot be seen here`,
          });
        if (!s.run || ownCluster) continue;
        for (const line of scriptLines(s.run.value)) {
          if (/^\s*#/.test(line.text)) continue;
          const m = DEPLOY_COMMAND.exec(line.text);
          // A client-side dry run needs no cluster (a server-side one does, and is reported).
          if (m && !/--dry-run(=client)?(\s|$)/.test(line.text))
            hits.push({
              pos: posIn(s.run, line.offset),
              message: `${step}: runs ${(m[2] as string).replace(/\s+/g, ' ').slice(0, 80)}: CI must not deploy`,
            });
        }
      }
    }
    return hits;
  },
};
