import { describe, expect, it } from 'vitest';
import { dpkgCataloger } from '../../src/inventory/catalogers/dpkg.js';
import { npmCataloger } from '../../src/inventory/catalogers/npm.js';
import { pythonCataloger } from '../../src/inventory/catalogers/python.js';
import { rubyCataloger } from '../../src/inventory/catalogers/ruby.js';
import { catalogTestLayers, type LayerEntry } from '../helpers/layers.js';

const CATALOGERS = [dpkgCataloger, npmCataloger, pythonCataloger, rubyCataloger];

const SITE = 'usr/local/lib/python3.11/site-packages';
const files = (six: string, lodash: string, tzdata: string): LayerEntry[] => [
  { path: `${SITE}/six-${six}.dist-info/METADATA`, content: `Name: six\nVersion: ${six}\n` },
  {
    path: 'app/node_modules/lodash/package.json',
    content: JSON.stringify({ name: 'lodash', version: lodash, license: 'MIT' }),
  },
  {
    path: 'var/lib/dpkg/status.d/tzdata',
    content: `Package: tzdata\nStatus: install ok installed\nArchitecture: all\nVersion: ${tzdata}\n`,
  },
  {
    path: 'usr/local/lib/ruby/gems/3.1.0/specifications/rake-13.0.6.gemspec',
    content: 'Gem::Specification.new do |s|\n  s.name = "rake".freeze\n  s.version = "13.0.6"\nend\n',
  },
];

/** "name@version layer" of every package found. */
async function layers(image: LayerEntry[][]): Promise<string[]> {
  const { packages } = await catalogTestLayers(image, CATALOGERS);
  return packages.map((p) => `${p.name}@${p.version} ${p.layer}`).sort();
}

describe('the layer that introduced a package', () => {
  it('stays the lower layer when a later one rewrites the metadata unchanged (chown -R, a repeated COPY)', async () => {
    const same = files('1.16.0', '4.17.20', '2024a-0+deb12u1');
    expect(await layers([same, [], same])).toEqual([
      'lodash@4.17.20 0',
      'rake@13.0.6 0',
      'six@1.16.0 0',
      'tzdata@2024a-0+deb12u1 0',
    ]);
  });

  it('is the upper layer when it changes the metadata (an upgrade), and after a rewrite of the upgrade too', async () => {
    const old = files('1.15.0', '4.17.20', '2024a-0+deb12u1');
    // pip removes the old dist-info directory on an upgrade.
    const upgraded = [
      { path: `${SITE}/.wh.six-1.15.0.dist-info`, content: '' },
      ...files('1.16.0', '4.17.21', '2024a-0+deb12u1'),
    ];
    expect(await layers([old, upgraded, upgraded])).toEqual([
      'lodash@4.17.21 1',
      'rake@13.0.6 0',
      'six@1.16.0 1',
      'tzdata@2024a-0+deb12u1 0',
    ]);
  });

  it('is the layer that wrote it again after a layer deleted it', async () => {
    const same = files('1.16.0', '4.17.20', '2024a-0+deb12u1');
    const gone: LayerEntry[] = [{ path: `${SITE}/.wh.six-1.16.0.dist-info`, content: '' }];
    expect((await layers([same, gone, same])).filter((l) => l.startsWith('six@'))).toEqual(['six@1.16.0 2']);
  });
});
