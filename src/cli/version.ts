import { Command, Option } from 'commander';
import { BatchAnswerer, schemeList } from '../advisories/versions/batch.js';
import { explainComparison } from '../advisories/versions/explain.js';
import { findScheme } from '../advisories/versions/index.js';
import { InvalidVersionError, type VersionScheme } from '../advisories/versions/scheme.js';
import { ExitCode, fail, oneLine } from '../errors.js';
import { setCommandExitCode } from './exitcode.js';

interface VersionFlags {
  scheme?: string;
  batch?: boolean;
  explain?: boolean;
  format: 'text' | 'json';
}

/** `portcullis version compare|satisfies`: the version schemes the matcher uses, for people and scripts. */
export function versionCommand(): Command {
  const version = new Command('version').description(
    'order versions as each ecosystem does (dpkg, apk, rpm, npm semver, PEP 440, Maven, Go, RubyGems, NuGet)',
  );
  const format = () => new Option('-f, --format <format>', 'output format').choices(['text', 'json']).default('text');
  version
    .command('compare')
    .description('print -1, 0 or 1 as A is older than, equal to or newer than B; --batch answers JSON lines on stdin')
    .argument('[a]', 'first version')
    .argument('[b]', 'second version')
    .option('--scheme <name>', 'version scheme or OSV ecosystem (dpkg, rpm, semver, pep440, Debian, PyPI, ...)')
    .option('--batch', 'read {"scheme","a","b"} or {"scheme","version","range"} JSON lines on stdin')
    .option('--explain', 'also print which component decided')
    .addOption(format())
    .exitOverride()
    .action(async (a: string | undefined, b: string | undefined, flags: VersionFlags, cmd: Command) => {
      if (flags.batch) {
        if (a !== undefined) fail('USAGE', 'version compare --batch reads stdin; give no versions on the command line');
        if (flags.explain) fail('USAGE', '--explain and --batch do not go together');
        if (cmd.getOptionValueSource('format') === 'cli' && flags.format !== 'json')
          fail('USAGE', `--batch always writes JSON lines; drop --format ${flags.format}`);
        if (flags.scheme !== undefined) scheme(flags.scheme);
        setCommandExitCode(await batch(flags.scheme));
        return;
      }
      const s = scheme(flags.scheme);
      if (a === undefined || b === undefined) fail('USAGE', 'version compare needs two versions, A and B, or --batch');
      const { cmp, lines } = orFail(() =>
        flags.explain ? explainComparison(s, a, b) : { cmp: s.compare(a, b), lines: [] },
      );
      if (flags.format === 'json') {
        process.stdout.write(`${JSON.stringify(flags.explain ? { cmp, explain: lines } : { cmp })}\n`);
      } else {
        process.stdout.write(`${[String(cmp), ...lines].join('\n')}\n`);
      }
      setCommandExitCode(ExitCode.ok);
    });
  version
    .command('satisfies')
    .description("print true (exit 0) or false (exit 1) as VERSION is in RANGE, in the scheme's own range syntax")
    .argument('<version>', 'the version')
    .argument('<range>', 'the range (npm, PEP 440 specifiers, Maven, RubyGems or NuGet syntax)')
    .option('--scheme <name>', 'version scheme or OSV ecosystem with ranges (semver, pep440, maven, rubygems, nuget)')
    .addOption(format())
    .exitOverride()
    .action((v: string, range: string, flags: VersionFlags) => {
      const s = scheme(flags.scheme);
      const test = s.satisfies?.bind(s);
      if (test === undefined) fail('USAGE', `scheme ${s.name} has no range syntax; use compare`);
      const ok = orFail(() => test(v, range));
      process.stdout.write(flags.format === 'json' ? `${JSON.stringify({ satisfies: ok })}\n` : `${ok}\n`);
      // Like grep and test(1): a script's `if` must not read "outside the range" as success.
      setCommandExitCode(ok ? ExitCode.ok : ExitCode.failed);
    });
  return version;
}

function scheme(name: string | undefined): VersionScheme {
  if (name === undefined) fail('USAGE', `--scheme is required (${schemeList()})`);
  return findScheme(name) ?? fail('USAGE', `unknown --scheme '${name}' (${schemeList()})`);
}

function orFail<T>(f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof InvalidVersionError) fail('INVALID_VERSION', oneLine(err));
    throw err;
  }
}

/** Answer stdin's JSON lines in order; 0 when every line got an answer, 1 when any got an error. */
async function batch(defaultScheme: string | undefined): Promise<number> {
  const answerer = new BatchAnswerer(defaultScheme);
  const out = process.stdout;
  let outError: Error | undefined;
  const onError = (err: Error) => {
    outError = err;
  };
  // Kept for the life of the process: a late EPIPE must not surface as an uncaught 'error' event.
  out.on('error', onError);
  // Reading waits while stdout drains, so a slow reader holds back stdin instead of filling memory.
  const write = async (text: string) => {
    if (outError) throw outError;
    if (text === '' || out.write(text)) return;
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error) => {
        out.off('drain', done);
        out.off('error', done);
        if (err) reject(err);
        else resolve();
      };
      out.on('drain', done);
      out.on('error', done);
    });
  };
  try {
    for await (const chunk of process.stdin) await write(answerer.push(chunk as Buffer));
    await write(answerer.end());
    // The exit code must not claim success for answers that never reached the reader.
    await new Promise<void>((resolve, reject) => out.write('', (err) => (err ? reject(err) : resolve())));
    if (outError) throw outError;
  } catch (err) {
    if (err === outError || (err as { code?: string })?.code === 'EPIPE')
      fail('OUTPUT_FAILED', `stdout: ${oneLine(err)} after ${answerer.lines} answers`, err);
    throw err;
  }
  if (answerer.errors === 0) return ExitCode.ok;
  process.stderr.write(
    `portcullis: ${answerer.errors} of ${answerer.lines} lines answered with an error (first: line ${answerer.firstError})\n`,
  );
  return ExitCode.failed;
}
