import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseGemspec, rubyCataloger, rubyStrings } from '../../src/inventory/catalogers/ruby.js';
import { catalogTestLayers, type LayerEntry } from '../helpers/layers.js';

async function catalogLayers(layers: LayerEntry[][]) {
  return catalogTestLayers(layers, [rubyCataloger]);
}

/** The shape `Gem::Specification#to_ruby` writes for an installed gem (RubyGems 3.x). */
function gemspec(name: string, version: string, licenses: string[], extra = ''): string {
  return `# -*- encoding: utf-8 -*-
# stub: ${name} ${version} ruby lib

Gem::Specification.new do |s|
  s.name = "${name}".freeze
  s.version = "${version}"

  s.required_rubygems_version = Gem::Requirement.new(">= 0".freeze) if s.respond_to? :required_rubygems_version=
  s.require_paths = ["lib".freeze]
  s.authors = ["A".freeze]
  s.description = "It says s.name = \\"other\\" in its description.".freeze
  s.files = ["lib/${name}.rb".freeze]
  s.licenses = [${licenses.map((l) => `"${l}".freeze`).join(', ')}]
  s.rubygems_version = "3.3.7".freeze
${extra}end
`;
}

describe('gemspec parsing', () => {
  it.each([
    ['"rake".freeze', ['rake']],
    ['"13.0.6"', ['13.0.6']],
    ["'single'", ['single']],
    ['%q{rake}', ['rake']],
    ['Gem::Version.new("1.2.3")', ['1.2.3']],
    ['["Ruby".freeze, "BSD-2-Clause".freeze]', ['Ruby', 'BSD-2-Clause']],
    ['["a", \'b\', %q(c)]', ['a', 'b', 'c']],
    ['"esc\\"aped\\u00e9"', ['esc"apedé']],
    ['nil', []],
    ['["unterminated', []],
  ])('right-hand side %s', (rhs, want) => {
    expect(rubyStrings(rhs)).toEqual(want);
  });

  it('reads name, version, licences and platform from the RubyGems shape', () => {
    expect(parseGemspec(gemspec('rake', '13.0.6', ['MIT']))).toEqual({
      name: 'rake',
      version: '13.0.6',
      licenses: ['MIT'],
      platform: 'ruby',
    });
    const native = gemspec('nokogiri', '1.15.4', ['MIT'], '  s.platform = "x86_64-linux".freeze\n');
    expect(parseGemspec(native)?.platform).toBe('x86_64-linux');
    expect(
      parseGemspec(
        'Gem::Specification.new do |spec|\n  spec.name = %q{old}\n  spec.version = "0.1"\n  spec.license = "GPL-2.0"\nend\n',
      ),
    ).toEqual({
      name: 'old',
      version: '0.1',
      licenses: ['GPL-2.0'],
      platform: 'ruby',
    });
  });

  it('falls back to the stub line RubyGems writes, and gives up without a name or version', () => {
    expect(parseGemspec('# stub: json 2.6.1 ruby lib\n')).toMatchObject({ name: 'json', version: '2.6.1' });
    expect(parseGemspec('Gem::Specification.new do |s|\n  s.name = "x"\nend\n')).toBeUndefined();
    expect(parseGemspec('')).toBeUndefined();
  });

  it('never evaluates, throws or hangs on arbitrary or mutated gemspecs', () => {
    const base = gemspec('rake', '13.0.6', ['MIT']);
    const mutated = fc
      .tuple(fc.nat(base.length), fc.nat(50), fc.string({ maxLength: 30 }))
      .map(([at, cut, ins]) => base.slice(0, at) + ins + base.slice(at + cut));
    const quotes = fc
      .array(fc.constantFrom('"', '\\', "'", 's.name = ', '[', ',', '%q{', 'a'), { maxLength: 400 })
      .map((a) => a.join(''));
    fc.assert(
      fc.property(fc.oneof(fc.string(), mutated, quotes), (text) => {
        const r = parseGemspec(text);
        if (r) expect(r.name.length * r.version.length).toBeGreaterThan(0);
      }),
    );
    const start = performance.now();
    parseGemspec(`  s.name = "${'\\"'.repeat(50_000)}\n  s.licenses = [${'"a", '.repeat(50_000)}`);
    expect(performance.now() - start).toBeLessThan(1000);
  });
});

describe('ruby cataloger', () => {
  it('catalogs installed and default gemspecs with purls, and records unreadable ones', async () => {
    const home = 'usr/local/lib/ruby/gems/3.1.0';
    const { packages, unknowns } = await catalogLayers([
      [
        { path: `${home}/specifications/default/json-2.6.1.gemspec`, content: gemspec('json', '2.6.1', ['Ruby']) },
        { path: `${home}/specifications/rake-13.0.6.gemspec`, content: gemspec('rake', '13.0.6', ['MIT']) },
        {
          path: `${home}/specifications/nokogiri-1.15.4-x86_64-linux.gemspec`,
          content: gemspec('nokogiri', '1.15.4', ['MIT'], '  s.platform = "x86_64-linux".freeze\n'),
        },
        { path: `${home}/gems/rake-13.0.6/rake.gemspec`, content: gemspec('not-installed', '0', []) },
      ],
      [{ path: `${home}/specifications/broken-1.0.gemspec`, content: 'Gem::Specification.new do |s|\nend\n' }],
    ]);
    expect(packages.map((p) => `${p.name}@${p.version}`).sort()).toEqual([
      'json@2.6.1',
      'nokogiri@1.15.4',
      'rake@13.0.6',
    ]);
    expect(packages.find((p) => p.name === 'json')).toMatchObject({
      purl: 'pkg:gem/json@2.6.1',
      licenses: ['Ruby'],
      metadata: { default: true, gemHome: home },
    });
    expect(packages.find((p) => p.name === 'nokogiri')?.purl).toBe('pkg:gem/nokogiri@1.15.4?platform=x86_64-linux');
    expect(unknowns).toMatchObject([{ path: `${home}/specifications/broken-1.0.gemspec`, layer: 1, fatal: false }]);
  });
});
