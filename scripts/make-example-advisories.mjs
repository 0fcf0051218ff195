// Write the README demo's advisory set (examples/advisories/) from the shared real advisory data: a handful of
// records for the packages of examples/debian-app, trimmed to the fields matching needs (no long details).
// Rerun only to change the selection; review the diff. Data: ../shared/advisories (see its README for licences).
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const DATA = process.env.PORTCULLIS_ADVISORY_DATA ?? join(import.meta.dirname, '..', '..', 'shared', 'advisories');
const OUT = join(import.meta.dirname, '..', 'examples', 'advisories');
const PICK = [
  'ghsa/GHSA-35jh-r3h4-6jhm.json', // lodash < 4.17.21: command injection
  'ghsa/GHSA-29mw-wpgm-hmr9.json', // lodash < 4.17.21: ReDoS
  'ghsa/GHSA-p6mc-m468-83gw.json', // lodash < 4.17.19: fixed before the example's 4.17.20 (must not match)
  'ghsa/GHSA-xvch-5gv4-984h.json', // minimist 1.0.0 - 1.2.5: prototype pollution
  'ghsa/GHSA-vh95-rmgr-6w4m.json', // minimist < 1.2.3: fixed before 1.2.5 (must not match)
  'ghsa/GHSA-v845-jxx5-vc9f.json', // urllib3 < 1.26.17
  'ghsa/GHSA-q2q7-5pp4-w6pg.json', // urllib3 < 1.26.5: fixed in the example's version (must not match)
  'debian-12/osv/CVE-2023-3446.json', // openssl
  'debian-12/osv/CVE-2023-2975.json', // openssl
  'debian-12/osv/CVE-2023-46218.json', // curl, fixed in 7.88.1-10+deb12u5
  'debian-12/osv/CVE-2023-23916.json', // curl, fixed in 7.88.1-1 (must not match 7.88.1-10)
  'debian-12/osv/CVE-2023-4806.json', // glibc
  'debian-12/osv/CVE-2023-39804.json', // tar
  'debian-12/osv/CVE-2005-2541.json', // tar, open, urgency unimportant
];

rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });
for (const rel of PICK) {
  const doc = JSON.parse(readFileSync(join(DATA, rel), 'utf8'));
  const { details, references, ...kept } = doc;
  writeFileSync(join(OUT, `${doc.id}.json`), `${JSON.stringify(kept, null, 2)}\n`);
}
writeFileSync(
  join(OUT, 'README.md'),
  `# Example advisories\n\nReal OSV records for the packages of \`examples/debian-app\`, for the README demo and the tests that must\nrun without the shared data. Taken by \`scripts/make-example-advisories.mjs\` from the shared advisory data\n(GitHub Advisory Database, CC-BY-4.0; osv.dev's Debian records from the Debian security tracker), with\n\`details\` and \`references\` dropped. Some are chosen because they must *not* match (fixed before the installed\nversion).\n`,
);
console.log(`wrote ${PICK.length} records to ${OUT}`);
