import { Command } from 'commander';
import { ExitCode } from '../errors.js';
import { loadPolicyKeys } from '../gate/basesig.js';
import { gateRecordOfError } from '../gate/errorrecord.js';
import { runGate } from '../gate/gate.js';
import { testPause } from '../gate/pause.js';
import { buildRecord, checkRecordWritable, StepClock, writeRecord } from '../gate/record.js';
import { openGateRegistries } from '../gate/registries.js';
import { parseGateRefs } from '../gate/resolve.js';
import { gateSummary } from '../gate/summary.js';
import type { RegistryOptions } from '../oci/registry/client.js';
import { loadPrivateKey } from '../sign/open.js';
import { readPassword } from '../sign/password.js';
import { AdvisoryDb, dataAgeMs, defaultDbPath, lastUpdated } from '../store/advisorydb.js';
import { readVexFiles } from '../vex/load.js';
import {
  addConnectionOptions,
  collect,
  loadChecksSettings,
  parseSize,
  progressReporter,
  type RegistryFlags,
  registryOptions,
} from './common.js';
import { setCommandExitCode } from './exitcode.js';
import { loadPolicyFlag } from './policyflag.js';

interface GateFlags extends RegistryFlags {
  to: string;
  policy: string;
  key: string;
  db?: string;
  tag?: string;
  record?: string;
  vex: string[];
  srcCreds?: string;
  destCreds?: string;
  quiet?: boolean;
  maxFileSize?: string;
  maxContentTotal?: string;
  maxLayerSize?: string;
  checksConfig?: string;
}

const WEEK_MS = 7 * 86_400_000;

/** `portcullis gate SOURCE --to PROD_REPO[:TAG] --policy FILE --key KEY`: assess, and promote only on PASS. */
export function gateCommand(): Command {
  const cmd = new Command('gate')
    .description(
      'assess an image by digest against a policy; only on PASS copy it to production, sign and attest it, then tag it',
    )
    .argument('<source>', 'the image in staging: docker://host/repo:tag or host/repo@sha256:...')
    .requiredOption('--to <repo[:tag]>', 'the production repository (host/repo), optionally with the tag to set')
    .requiredOption('--policy <file>', 'the policy to decide with (docs/policy.md)')
    .requiredOption(
      '--key <file>',
      'cosign private key to sign and attest with; password: COSIGN_PASSWORD, a prompt, or standard input',
    )
    .option('--db <file>', 'advisory database (default: PORTCULLIS_DB or ~/.cache/portcullis/advisories.db)')
    .option('--tag <tag>', "production tag (default: the one --to names, else the source's tag)")
    .option('--record <file>', 'write the decision record (JSON) to FILE')
    .option(
      '--checks-config <file>',
      "settings of the misconfiguration and secret checks the policy's rules read (schemas/checks.schema.json)",
    )
    .option('--vex <file>', 'OpenVEX or CycloneDX VEX document to apply before the policy (repeatable)', collect, [])
    .option('--src-creds <user:password>', 'credentials for the source registry (default: --creds, auth files)')
    .option('--dest-creds <user:password>', 'credentials for the production registry (default: --creds, auth files)')
    .option('-q, --quiet', 'no progress output')
    .option('--max-file-size <size>', 'largest file whose content a cataloger reads (default 64MiB)')
    .option('--max-content-total <size>', 'most file content kept in memory for one image (default 256MiB)')
    .option('--max-layer-size <size>', 'largest uncompressed layer accepted (default 64GiB)')
    .exitOverride();
  return addConnectionOptions(cmd).action(async (source: string, flags: GateFlags) => {
    try {
      setCommandExitCode(await gate(source, flags));
    } catch (err) {
      // The record says what happened even when the run stopped on an error; the error itself still ends the run.
      if (flags.record !== undefined) await writeRecord(flags.record, gateRecordOfError(source, err)).catch(() => {});
      throw err;
    }
  });
}

/** Another registry (a base image's) never gets the credentials given for staging or production. */
function withoutCreds(o: RegistryOptions): RegistryOptions {
  const { creds: _, ...rest } = o;
  return rest;
}

async function gate(sourceText: string, flags: GateFlags): Promise<number> {
  // Everything that can be wrong locally is checked before any registry is contacted. A password that needs no
  // prompt (COSIGN_PASSWORD, standard input) starts the key's scrypt at once, in the thread pool while the rest loads
  // (a quarter of a second with cosign's parameters); a prompt comes after the local checks. Either way a wrong
  // password stops the gate before any registry is read.
  const refs = parseGateRefs(sourceText, flags.to, flags.tag);
  const decryptKey = async () => loadPrivateKey(flags.key, (await readPassword(false)).bytes);
  let decrypting = process.env.COSIGN_PASSWORD !== undefined || !process.stdin.isTTY ? decryptKey() : undefined;
  decrypting?.catch(() => {}); // handled where it is awaited, after the other local checks
  const policy = loadPolicyFlag(flags.policy);
  const policyKeys = policy.rules.baseImage?.signature ? await loadPolicyKeys(policy) : undefined;
  const checkSettings = flags.checksConfig !== undefined ? loadChecksSettings(flags.checksConfig) : undefined;
  const vex = readVexFiles(flags.vex);
  for (const w of vex.warnings.slice(0, 20)) process.stderr.write(`portcullis: warning: vex: ${w}\n`);
  const limits = {
    ...(flags.maxFileSize ? { maxFileBytes: parseSize('--max-file-size', flags.maxFileSize) } : {}),
    ...(flags.maxContentTotal ? { maxBufferedBytes: parseSize('--max-content-total', flags.maxContentTotal) } : {}),
    ...(flags.maxLayerSize ? { maxLayerBytes: parseSize('--max-layer-size', flags.maxLayerSize) } : {}),
  };
  if (flags.record !== undefined) await checkRecordWritable(flags.record);
  const db = AdvisoryDb.open(flags.db ?? defaultDbPath());
  let key: Awaited<ReturnType<typeof decryptKey>>;
  try {
    decrypting ??= decryptKey();
    key = await decrypting;
  } catch (err) {
    db.close();
    throw err;
  }
  const shared = registryOptions(flags);
  const registries = openGateRegistries(refs, {
    source: flags.srcCreds !== undefined ? { ...shared, creds: flags.srcCreds } : shared,
    dest: flags.destCreds !== undefined ? { ...shared, creds: flags.destCreds } : shared,
    other: withoutCreds(shared),
  });
  const tty = process.stderr.isTTY && !process.env.CI && !flags.quiet;
  const clock = new StepClock();
  try {
    const updated = db.meta('updated_at') ?? null;
    if (dataAgeMs(updated) > WEEK_MS) {
      process.stderr.write(
        `portcullis: warning: the advisory database was ${lastUpdated(updated)}; run 'portcullis db update'\n`,
      );
    }
    const result = await runGate(
      {
        refs,
        policy,
        policyKeys,
        key,
        advisories: db,
        database: { path: db.path, updated },
        vex: vex.statements,
        limits,
        now: () => new Date(),
        ...(checkSettings ? { checkSettings } : {}),
      },
      {
        registries,
        progress: (m) => {
          if (tty) process.stderr.write(`gate: ${m}\n`);
        },
        warn: (m) => process.stderr.write(`portcullis: warning: ${m}\n`),
        walkProgress: (layers) => progressReporter(!!flags.quiet, layers),
        after: async (step) => {
          clock.lap(step);
          await testPause(step);
          clock.reset();
        },
      },
    );
    process.stdout.write(gateSummary(result));
    if (flags.record !== undefined) await writeRecord(flags.record, buildRecord(result, clock.seconds));
    await testPause('record');
    return result.outcome === 'failed' ? ExitCode.failed : ExitCode.ok;
  } finally {
    registries.close();
    db.close();
  }
}
