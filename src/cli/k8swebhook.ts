import { readFileSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { fail, printable } from '../errors.js';
import { loadK8sConfig } from '../k8s/config.js';
import { K8S_RULES } from '../k8s/rules/index.js';
import { webhookManifests } from '../k8s/webhook/manifests.js';
import { createWebhookServer, DEFAULT_MAX_BODY_BYTES, listen, type WebhookMode } from '../k8s/webhook/server.js';
import { fixedKeys, ImageVerifier, policyKeys, registryFailure, type TrustSource } from '../k8s/webhook/verify.js';
import { loadTrustedKey } from '../sign/open.js';
import { loadTrustPolicyFile } from '../sign/trustcheck.js';
import { TOOL } from '../version.js';
import { jsonLogger } from '../watch/log.js';
import { addConnectionOptions, collect, parseSize, type RegistryFlags, registryOptions } from './common.js';
import { setCommandExitCode } from './exitcode.js';

interface ServeFlags extends RegistryFlags {
  config: string;
  tlsCert: string;
  tlsKey: string;
  listen: string;
  mode: WebhookMode;
  key: string[];
  trustPolicy?: string;
  mutate?: boolean;
  maxBody: string;
  logAllowed?: boolean;
}

interface ManifestFlags {
  namespace: string;
  service: string;
  image: string;
  caBundle?: string;
  certManager?: boolean;
  mutating?: boolean;
  mode: WebhookMode;
  replicas: string;
  timeout: string;
  output?: string;
}

/** `portcullis k8s webhook serve|manifests`. */
export function webhookCommand(): Command {
  const cmd = new Command('webhook').description(
    'admission webhook: admit only signed, assessed production images and pods that meet their Pod Security level',
  );
  const serve = new Command('serve')
    .description(
      'serve AdmissionReview v1 over HTTPS: POST /validate (and /mutate with --mutate), GET /healthz; runs until SIGTERM',
    )
    .requiredOption(
      '--config <file>',
      'productionRegistries, pssLevel, pssLevels, webhook settings (schemas/k8s.schema.json)',
    )
    .requiredOption('--tls-cert <file>', 'serving certificate (PEM); re-read when the file changes')
    .requiredOption('--tls-key <file>', 'its private key (PEM)')
    .option('--listen <host:port>', 'address to listen on', '127.0.0.1:8443')
    .addOption(
      new Option('--mode <mode>', 'enforce: deny; audit: admit with warnings and audit annotations')
        .choices(['enforce', 'audit'])
        .default('enforce'),
    )
    .option('--key <file>', 'trusted cosign public key (PEM); repeatable', collect, [])
    .option('--trust-policy <file>', 'trust policy (YAML): repository patterns to keys and required attestations')
    .option('--mutate', 'also serve /mutate: production image tags resolved to digests (JSON Patch)')
    .option('--max-body <size>', 'largest AdmissionReview body read', String(DEFAULT_MAX_BODY_BYTES))
    .option('--log-allowed', 'log every admission (default: denials one line each, admissions counted every minute)')
    .exitOverride();
  addConnectionOptions(serve).action(async (flags: ServeFlags) => {
    setCommandExitCode(await runServe(flags));
  });
  const manifests = new Command('manifests')
    .description(
      'write the Namespace, ServiceAccount, Deployment, PodDisruptionBudget, Service and ValidatingWebhookConfiguration (and the certificate set-up) as YAML',
    )
    .requiredOption('--namespace <ns>', 'namespace the webhook runs in (left out of its own checks, as is kube-system)')
    .requiredOption('--service <name>', 'name of the Service and Deployment')
    .option('--image <ref>', 'image that runs portcullis (pin it by digest)', `portcullis:${TOOL.version}`)
    .option('--ca-bundle <file>', "PEM of the CA that signed the serving certificate (the configuration's caBundle)")
    .option('--cert-manager', 'let cert-manager issue the certificate and inject the CA (Issuer and Certificate)')
    .option('--mutating', 'also a MutatingWebhookConfiguration (tag-to-digest resolution)')
    .addOption(
      new Option('--mode <mode>', 'the mode the webhook runs in').choices(['enforce', 'audit']).default('enforce'),
    )
    .option('--replicas <n>', 'replicas (failurePolicy Fail: keep at least two)', '2')
    .option('--timeout <seconds>', 'timeoutSeconds of the configuration (1-30)', '10')
    .option('-o, --output <file>', 'write to FILE instead of stdout')
    .exitOverride()
    .action(async (flags: ManifestFlags) => {
      await runManifests(flags);
      setCommandExitCode(0);
    });
  cmd.addCommand(serve);
  cmd.addCommand(manifests);
  return cmd;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

async function runManifests(flags: ManifestFlags): Promise<void> {
  for (const [flag, v] of [
    ['--namespace', flags.namespace],
    ['--service', flags.service],
  ] as const) {
    if (!DNS_LABEL.test(v)) fail('USAGE', `${flag} '${printable(v, 80)}' is not a DNS label (lowercase, digits, '-')`);
  }
  const replicas = Number(flags.replicas);
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > 100) fail('USAGE', '--replicas must be 1-100');
  const timeout = Number(flags.timeout);
  if (!Number.isInteger(timeout) || timeout < 1 || timeout > 30) fail('USAGE', '--timeout must be 1-30 (seconds)');
  let caBundle: string | undefined;
  if (flags.caBundle !== undefined) {
    caBundle = readSmallFile(flags.caBundle, '--ca-bundle');
    if (!caBundle.includes('-----BEGIN CERTIFICATE-----')) {
      fail('USAGE', `--ca-bundle ${flags.caBundle}: no PEM certificate in it`);
    }
  }
  const text = webhookManifests({
    namespace: flags.namespace,
    service: flags.service,
    image: flags.image,
    ...(caBundle ? { caBundle } : {}),
    certManager: flags.certManager === true,
    mutating: flags.mutating === true,
    mode: flags.mode,
    replicas,
    timeoutSeconds: timeout,
  });
  if (flags.output) await writeFile(flags.output, text);
  else process.stdout.write(text);
}

function readSmallFile(file: string, flag: string): string {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    return fail('NOT_FOUND', `${flag} ${file}: no such file`);
  }
  if (size > 1024 * 1024) fail('FILE_TOO_LARGE', `${flag} ${file}: over 1 MiB`);
  return readFileSync(file, 'utf8');
}

function parseListen(v: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(v);
  const port = Number(m?.[2]);
  if (!m || port > 65535) fail('USAGE', `--listen '${printable(v, 80)}' is not host:port`);
  return { host: (m[1] as string).replace(/^\[|\]$/g, ''), port };
}

async function runServe(flags: ServeFlags): Promise<number> {
  if (flags.key.length === 0 && flags.trustPolicy === undefined) fail('USAGE', 'give --key PUB or --trust-policy FILE');
  if (flags.key.length > 0 && flags.trustPolicy !== undefined) {
    fail('USAGE', '--key and --trust-policy do not go together; put the key in the policy');
  }
  const config = loadK8sConfig(resolve(flags.config), { knownRules: K8S_RULES.map((r) => r.id), admission: true });
  if (!config.production) {
    fail('CONFIG_INVALID', `${flags.config}: the webhook needs productionRegistries (no image could be admitted)`);
  }
  const at = parseListen(flags.listen);
  const maxBody = parseSize('--max-body', flags.maxBody);
  const trust: TrustSource = flags.trustPolicy
    ? policyKeys(await loadTrustPolicyFile(flags.trustPolicy))
    : fixedKeys(await Promise.all(flags.key.map((k) => loadTrustedKey(k))));
  const tls = () => ({
    cert: readSmallFile(flags.tlsCert, '--tls-cert'),
    key: readSmallFile(flags.tlsKey, '--tls-key'),
  });
  const w = config.webhook ?? {};
  const verifier = new ImageVerifier({
    registry: registryOptions(flags),
    trust,
    ...(w.cacheTtlMs !== undefined ? { cacheTtlMs: w.cacheTtlMs } : {}),
    ...(w.denyCacheTtlMs !== undefined ? { denyCacheTtlMs: w.denyCacheTtlMs } : {}),
    ...(w.cacheSize !== undefined ? { cacheSize: w.cacheSize } : {}),
    ...(w.maxAssessmentAgeMs !== undefined ? { maxAssessmentAgeMs: w.maxAssessmentAgeMs } : {}),
  });
  // One write per turn of the event loop, not per decision: under load, a write per line costs more than the decision.
  const pending: string[] = [];
  const flush = () => {
    if (pending.length > 0) process.stderr.write(pending.splice(0).join(''));
  };
  const log = jsonLogger((line) => {
    if (pending.push(line) === 1) setImmediate(flush);
  });
  const server = createWebhookServer(tls(), {
    ctx: { config, images: verifier, describeError: registryFailure },
    mode: flags.mode,
    mutate: flags.mutate === true,
    maxBodyBytes: maxBody,
    log: (e) => {
      if (e.event !== 'decision') return log('warn', String(e.event), e);
      if (e.allowed) counts.allowed++;
      else counts.denied++;
      // Denials (and audit mode's would-be denials) one line each; plain admissions as counts, with --log-allowed each.
      if (!e.allowed || e.reasons || flags.logAllowed) log(e.allowed ? 'info' : 'warn', 'decision', e);
    },
  });
  const counts = { allowed: 0, denied: 0 };
  const stats = () =>
    log('info', 'stats', { event: 'stats', ...counts, cached: verifier.cacheSize, verified: verifier.fetched });
  const statsTimer = setInterval(stats, 60_000);
  statsTimer.unref();
  const port = await listen(server, at.host, at.port);
  log('info', 'listening', {
    event: 'listening',
    url: `https://${flags.listen.replace(/:\d+$/, '')}:${port}`,
    mode: flags.mode,
  });
  // Certificates rotate (cert-manager renews into the Secret): pick up new files without a restart.
  let stamp = certStamp(flags);
  const reload = setInterval(() => {
    const now = certStamp(flags);
    if (now === stamp) return;
    try {
      server.setSecureContext({ ...tls(), minVersion: 'TLSv1.2' });
      stamp = now;
      log('info', 'certificate reloaded', { event: 'tls-reload' });
    } catch (err) {
      log('error', 'certificate reload failed; keeping the old one', { event: 'tls-reload', error: String(err) });
    }
  }, 30_000);
  reload.unref();
  const signal = await new Promise<string>((r) => {
    const on = (s: NodeJS.Signals) => r(s);
    process.once('SIGTERM', on);
    process.once('SIGINT', on);
  });
  clearInterval(statsTimer);
  stats();
  log('info', `${signal} received`, { event: 'signal', signal });
  clearInterval(reload);
  await new Promise<void>((r) => {
    server.close(() => r());
    server.closeIdleConnections();
  });
  verifier.close();
  flush();
  return 0;
}

function certStamp(flags: ServeFlags): string {
  try {
    return [flags.tlsCert, flags.tlsKey].map((f) => statSync(f).mtimeMs).join('/');
  } catch {
    return 'missing';
  }
}
