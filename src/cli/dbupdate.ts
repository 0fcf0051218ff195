import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Command, Option } from 'commander';
import {
  alpineRelease,
  applyMirrors,
  DEFAULT_ALPINE_RELEASES,
  defaultFeeds,
  type Feed,
  mirrorsFromEnv,
  parseMirror,
  parseUpdateConfig,
  selectFeeds,
  type UpdateConfig,
} from '../advisories/feeds.js';
import { updateDb } from '../advisories/update.js';
import { ExitCode, fail, printable } from '../errors.js';
import { defaultDbPath } from '../store/advisorydb.js';
import { parseSize, positiveInt } from './common.js';
import { setCommandExitCode } from './exitcode.js';

interface UpdateFlags {
  db?: string;
  source?: string[];
  mirror?: string[];
  alpineRelease?: string[];
  caCert?: string[];
  allowHttp?: boolean;
  config?: string;
  retries: string;
  maxDownloadSize?: string;
  rebuild?: boolean;
  list?: boolean;
  quiet?: boolean;
}

const DEFAULT_MAX_DOWNLOAD = 2 * 1024 ** 3;

/** `portcullis db update`: download the public feeds (or a mirror of them) into the advisory database. */
export function dbUpdateCommand(): Command {
  return new Command('update')
    .exitOverride()
    .description(
      'download the advisory feeds (osv.dev exports, Debian security tracker, Alpine secdb) into the database',
    )
    .option('--db <file>', 'database file (default: PORTCULLIS_DB or ~/.cache/portcullis/advisories.db)')
    .option(
      '--source <name>',
      'only these feeds: osv, osv:npm, debian-tracker, alpine-secdb/v3.20, ...; repeatable',
      append,
    )
    .option(
      '--mirror <[name=]url>',
      'fetch from a mirror: URL replaces scheme and host of every feed, or of the named ones; repeatable (also PORTCULLIS_DB_MIRROR)',
      append,
    )
    .option(
      '--alpine-release <x.y>',
      `Alpine releases whose secdb is fetched (default ${DEFAULT_ALPINE_RELEASES.join(', ')}); repeatable`,
      append,
    )
    .option('--ca-cert <file>', 'extra CA certificate (PEM) to trust, for a private mirror; repeatable', append)
    .option('--allow-http', 'allow plain-HTTP mirror URLs (only on a network you trust: nothing checks the data)')
    .option(
      '--config <file>',
      'JSON settings: mirrors, sources, alpineReleases, caCerts (schemas/db-update-config.schema.json)',
    )
    .addOption(
      new Option('--retries <n>', 'attempts for 5xx, 429, resets and short bodies')
        .default('5')
        .argParser(positiveInt('--retries')),
    )
    .option('--max-download-size <size>', 'largest download of one feed (default 2GiB)')
    .option('--rebuild', 'build a new database from the selected feeds alone, ignoring the current one')
    .option('--list', 'print the feeds and the URLs they would be fetched from, and exit')
    .option('-q, --quiet', 'no progress output')
    .action(async (flags: UpdateFlags) => {
      const config = flags.config ? readConfig(flags.config) : undefined;
      const feeds = resolveFeeds(flags, config);
      if (flags.list) {
        for (const f of feeds) process.stdout.write(`${f.id}\t${f.url.href}\n`);
        setCommandExitCode(ExitCode.ok);
        return;
      }
      const file = flags.db ?? defaultDbPath();
      const maxBytes = flags.maxDownloadSize
        ? parseSize('--max-download-size', flags.maxDownloadSize)
        : (config?.maxDownloadBytes ?? DEFAULT_MAX_DOWNLOAD);
      const caFiles = [...(config?.caCerts ?? []), ...(flags.caCert ?? [])];
      const ca = caFiles.map((f) => readPem(f));
      if (ca.length && process.env.NODE_EXTRA_CA_CERTS) ca.push(readPem(process.env.NODE_EXTRA_CA_CERTS));
      const tty = !flags.quiet && process.stderr.isTTY && !process.env.CI;
      const started = Date.now();
      const outcomes = await updateDb({
        dbPath: file,
        feeds,
        rebuild: flags.rebuild === true,
        download: {
          ...(ca.length ? { tls: { ca } } : {}),
          allowHttp: flags.allowHttp === true || config?.allowHttp === true,
          retries: Number(flags.retries),
          maxBytes,
        },
        log: (line) => {
          if (tty) process.stderr.write('\r\x1b[K');
          if (!flags.quiet) process.stderr.write(`${line}\n`);
        },
        warn: (line) => {
          if (tty) process.stderr.write('\r\x1b[K');
          process.stderr.write(`portcullis: warning: ${line}\n`);
        },
        ...(tty ? { progress: progressLine() } : {}),
      });
      for (const o of outcomes) {
        for (const r of o.refused.slice(0, 20))
          process.stderr.write(`portcullis: warning: refused ${printable(r.where)}: ${printable(r.reason)}\n`);
        if (o.refused.length > 20)
          process.stderr.write(`portcullis: warning: ... and ${o.refused.length - 20} more refused in ${o.id}\n`);
      }
      const changed = outcomes.filter((o) => o.status === 'updated').length;
      const secs = (Date.now() - started) / 1000;
      process.stderr.write(
        `updated ${file}: ${changed} of ${outcomes.length} feeds changed, ${outcomes.length - changed} not modified (${secs.toFixed(1)} s)\n`,
      );
      setCommandExitCode(ExitCode.ok);
    });
}

/** Feeds after config, environment and flags: defaults, then mirrors (config < env < flags), then `--source`. */
function resolveFeeds(flags: UpdateFlags, config: UpdateConfig | undefined): Feed[] {
  const releases = flags.alpineRelease
    ? flags.alpineRelease.flatMap((r) => r.split(',')).map((r) => alpineRelease(r, '--alpine-release'))
    : (config?.alpineReleases ?? [...DEFAULT_ALPINE_RELEASES]);
  const mirrors = [
    ...(config?.mirrors ?? []),
    ...mirrorsFromEnv(process.env.PORTCULLIS_DB_MIRROR),
    ...(flags.mirror ?? []).map((m) => parseMirror(m, '--mirror')),
  ];
  const all = applyMirrors(defaultFeeds(releases), mirrors);
  return selectFeeds(all, flags.source ?? config?.sources ?? []);
}

/** Repeatable flags without a printed default. */
function append(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function readConfig(file: string): UpdateConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    fail('NOT_FOUND', `--config ${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    fail('CONFIG_INVALID', `${file}: not valid JSON (${(err as Error).message})`);
  }
  return parseUpdateConfig(doc, file, (p) => resolve(dirname(file), p));
}

function readPem(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    fail('NOT_FOUND', `${file}: cannot read certificate (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

function progressLine(): (feed: Feed, got: number, total: number | undefined) => void {
  let last = 0;
  return (feed, got, total) => {
    const now = Date.now();
    if (now - last < 100) return;
    last = now;
    const mb = (n: number): string => (n / 1024 ** 2).toFixed(1);
    process.stderr.write(`\r\x1b[K${feed.id}: ${mb(got)}${total !== undefined ? `/${mb(total)}` : ''} MiB`);
  };
}
