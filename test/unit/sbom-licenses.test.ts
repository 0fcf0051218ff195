import { describe, expect, it } from 'vitest';
import type { Inventory } from '../../src/inventory/image.js';
import type { Package } from '../../src/inventory/model.js';
import { toCycloneDx } from '../../src/report/sbom/cyclonedx.js';
import { toSpdx } from '../../src/report/sbom/spdx.js';
import { validateCycloneDx, validateSpdx } from '../helpers/validate.js';

function pkg(name: string, licenses: string[]): Package {
  return {
    name,
    version: '1.0.0',
    type: 'npm',
    purl: `pkg:npm/${name}@1.0.0`,
    licenses,
    locations: [{ path: `app/node_modules/${name}/package.json`, layer: 0 }],
    layer: 0,
    foundBy: 'test',
  };
}

/** Licences as packages declare them: LicenseRef-s, deprecated ids, ids newer than CycloneDX 1.6's list. */
const LICENSES: Record<string, string[]> = {
  ref: ['MIT OR LicenseRef-foo'],
  'ref-alone': ['LicenseRef-bar'],
  classpath: ['GPL-2.0-with-classpath-exception'],
  ecos: ['eCos-2.0'],
  'gpl-plus': ['GPL-2.0+'],
  'mit-plus': ['MIT+'],
  unrar: ['UnRAR'],
  cron: ['Vixie-Cron', 'MIT'],
  mixed: ['(MIT OR LicenseRef-foo) AND GPL-2.0+', 'WordNet OR OSSP'],
  eula: ['Some EULA'],
};

const INV: Inventory = {
  subject: { kind: 'rootfs', source: 'dir:/tmp/x', layers: [] },
  os: undefined,
  packages: Object.entries(LICENSES).map(([name, l]) => pkg(name, l)),
  unknowns: [],
  stats: { files: 1, layers: [] },
};

describe('SBOM licences', () => {
  it('CycloneDX: a license.id only from the list its schema ships, else an expression or a name', () => {
    const bom = toCycloneDx(INV, { uuid: '00000000-0000-4000-8000-000000000000' });
    expect(validateCycloneDx(bom)).toEqual([]);
    const by = new Map((bom.components as { name: string; licenses: unknown }[]).map((c) => [c.name, c.licenses]));
    expect(by.get('classpath')).toEqual([{ expression: 'GPL-2.0-only WITH Classpath-exception-2.0' }]);
    expect(by.get('gpl-plus')).toEqual([{ license: { id: 'GPL-2.0-or-later' } }]);
    expect(by.get('unrar')).toEqual([{ expression: 'UnRAR' }]);
    expect(by.get('cron')).toEqual([{ license: { name: 'Vixie-Cron' } }, { license: { id: 'MIT' } }]);
  });

  it('SPDX: every LicenseRef- used is declared, deprecated ids are rewritten, pyspdxtools accepts it', () => {
    const doc = toSpdx(INV, { uuid: '00000000-0000-4000-8000-000000000000' });
    expect(() => validateSpdx(doc)).not.toThrow();
    expect(doc.creationInfo).toMatchObject({ licenseListVersion: '3.27' });
    const by = new Map(
      (doc.packages as { name: string; licenseDeclared: string }[]).map((p) => [p.name, p.licenseDeclared]),
    );
    expect(Object.fromEntries(Object.keys(LICENSES).map((n) => [n, by.get(n)]))).toEqual({
      ref: 'MIT OR LicenseRef-foo',
      'ref-alone': 'LicenseRef-bar',
      classpath: 'GPL-2.0-only WITH Classpath-exception-2.0',
      ecos: 'GPL-2.0-or-later WITH eCos-exception-2.0',
      'gpl-plus': 'GPL-2.0-or-later',
      'mit-plus': 'LicenseRef-MIT-or-later',
      unrar: 'LicenseRef-UnRAR',
      cron: 'LicenseRef-Vixie-Cron AND MIT',
      mixed: '((MIT OR LicenseRef-foo) AND GPL-2.0-or-later) AND (LicenseRef-WordNet OR LicenseRef-OSSP)',
      eula: expect.stringMatching(/^LicenseRef-Some-EULA-[0-9a-f]{8}$/),
    });
    const declared = (doc.hasExtractedLicensingInfos as { licenseId: string }[]).map((x) => x.licenseId);
    const used = new Set([...by.values()].join(' ').match(/LicenseRef-[A-Za-z0-9.-]+/g));
    expect(new Set(declared)).toEqual(used);
    expect(declared).toHaveLength(used.size);
  });
});
