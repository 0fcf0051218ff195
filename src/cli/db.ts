import { Command, Option } from 'commander';
import { importPath } from '../advisories/import.js';
import { ExitCode, fail, printable } from '../errors.js';
import { renderTable } from '../report/sbom/table.js';
import { AdvisoryDb, AdvisoryDbWriter, ageKeptWarning, defaultDbPath } from '../store/advisorydb.js';
import { dbUpdateCommand } from './dbupdate.js';
import { setCommandExitCode } from './exitcode.js';

interface DbFlags {
  db?: string;
  format?: 'table' | 'json';
  quiet?: boolean;
}

/** `portcullis db import|update|status`: the embedded advisory store. */
export function dbCommand(): Command {
  const db = new Command('db').description('manage the embedded advisory database');
  db.command('import')
    .description(
      'import advisories from files, directories or zip exports (OSV JSON of any ecosystem, Debian tracker JSON, Alpine secdb)',
    )
    .argument('<path...>', 'files or directories to import')
    .option('--db <file>', 'database file (default: PORTCULLIS_DB or ~/.cache/portcullis/advisories.db)')
    .option('-q, --quiet', 'no progress output')
    .option('--rebuild', 'build a new database from these paths alone, ignoring the current one (old schema, damaged)')
    .action(async (paths: string[], flags: DbFlags & { rebuild?: boolean }) => {
      const file = flags.db ?? defaultDbPath();
      const writer = new AdvisoryDbWriter(file, { rebuild: flags.rebuild === true });
      const started = Date.now();
      let records = 0;
      /** Per source, over all paths: a source found under two paths counts the records of both. */
      const imported = new Map<string, { records: number; newest: string | null; paths: string[] }>();
      try {
        // The store's sources before this import: any it does not import again keeps its age, and so does the store.
        const before = writer.sourceNames();
        for (const path of paths) {
          const stats = await importPath(path, writer, (n) => {
            if (!flags.quiet && process.stderr.isTTY) process.stderr.write(`\r\x1b[K${path}: ${n} files`);
          });
          if (!flags.quiet && process.stderr.isTTY) process.stderr.write('\r\x1b[K');
          for (const [name, s] of stats.bySource) {
            const t = imported.get(name) ?? { records: 0, newest: null, paths: [] };
            t.records += s.records;
            if (t.newest === null || (s.newest !== null && s.newest > t.newest)) t.newest = s.newest;
            t.paths.push(path);
            imported.set(name, t);
          }
          records += stats.records;
          for (const r of stats.refused.slice(0, 20))
            process.stderr.write(`portcullis: warning: refused ${printable(r.where)}: ${printable(r.reason)}\n`);
          if (stats.refused.length > 20)
            process.stderr.write(`portcullis: warning: ... and ${stats.refused.length - 20} more refused\n`);
          if (stats.unknownEcosystems.size > 0) {
            const list = [...stats.unknownEcosystems].map(([e, n]) => `${printable(e, 40)} (${n})`).join(', ');
            process.stderr.write(
              `portcullis: warning: ecosystems with no version scheme, stored but never matched: ${list}\n`,
            );
          }
          const counted =
            `${stats.records} records from ${stats.files} files` +
            `${stats.refused.length ? `, ${stats.refused.length} refused` : ''}${stats.ignored.length ? `, ${stats.ignored.length} not advisory data` : ''}`;
          // An empty mount point or a mistyped directory must not wipe a --rebuild, nor renew the data age scans check.
          if (stats.records === 0) fail('NOT_FOUND', `${path}: no advisory records (${counted}); nothing was imported`);
          process.stderr.write(`${path}: ${counted}\n`);
        }
        const importedAt = new Date().toISOString();
        for (const [name, t] of imported) {
          writer.source({
            name,
            location: t.paths.join(', '),
            importedAt,
            records: t.records,
            newestModified: t.newest,
          });
        }
        const behind = before.filter((name) => !imported.has(name));
        if (behind.length > 0)
          process.stderr.write(`portcullis: warning: ${ageKeptWarning('source', behind, 'import')}\n`);
        writer.commit({ renewAge: behind.length === 0 });
      } catch (err) {
        writer.abort();
        throw err;
      }
      const secs = (Date.now() - started) / 1000;
      process.stderr.write(`imported ${records} records into ${file} in ${secs.toFixed(1)} s\n`);
      setCommandExitCode(ExitCode.ok);
    });
  db.addCommand(dbUpdateCommand());
  db.command('status')
    .description('show the sources, record counts and age of the advisory database')
    .option('--db <file>', 'database file (default: PORTCULLIS_DB or ~/.cache/portcullis/advisories.db)')
    .addOption(new Option('-f, --format <format>', 'output format').choices(['table', 'json']).default('table'))
    .action((flags: DbFlags) => {
      const store = AdvisoryDb.open(flags.db ?? defaultDbPath());
      try {
        const counts = store.counts();
        const sources = store.sources();
        const updated = store.meta('updated_at');
        if (flags.format === 'json') {
          process.stdout.write(`${JSON.stringify({ path: store.path, updated, ...counts, sources }, null, 2)}\n`);
        } else {
          // Names and times come from the records themselves (a source is an id's prefix): shown, never obeyed.
          const rows = sources.map((s) =>
            [s.name, String(s.records), s.newestModified ?? '-', s.importedAt, s.location].map((c) =>
              printable(c, 120),
            ),
          );
          process.stdout.write(
            `Database: ${store.path}\nUpdated:  ${updated ?? 'unknown'}\nAdvisories: ${counts.advisories}, affected packages: ${counts.affected}\n\n` +
              `${renderTable(['SOURCE', 'RECORDS', 'NEWEST RECORD', 'IMPORTED', 'FROM'], rows)}\n`,
          );
        }
      } finally {
        store.close();
      }
      setCommandExitCode(ExitCode.ok);
    });
  return db;
}
