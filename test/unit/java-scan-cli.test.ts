import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeZip } from '../fixtures/java/zipwriter.js';
import { runCli } from '../helpers/cli.js';

/**
 * Java archives through the built CLI, `db import` and `scan` of a directory: what is catalogued reaches the
 * matcher under the Maven coordinates its advisories are filed under.
 */

let work: string;
let db: string;

/** One OSV record for Maven `name`, affected from `introduced` until `fixed`. */
function osv(id: string, name: string, introduced: string, fixed: string): string {
  return JSON.stringify({
    schema_version: '1.4.0',
    id,
    modified: '2024-01-01T00:00:00Z',
    published: '2022-03-31T00:00:00Z',
    summary: `test advisory for ${name}`,
    affected: [
      {
        package: { ecosystem: 'Maven', name },
        ranges: [{ type: 'ECOSYSTEM', events: [{ introduced }, { fixed }] }],
      },
    ],
    database_specific: { severity: 'CRITICAL' },
  });
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'java-scan-cli-'));
  const advisories = join(work, 'advisories');
  mkdirSync(advisories);
  writeFileSync(
    join(advisories, 'GHSA-36p3-wjmg-h94x.json'),
    osv('GHSA-36p3-wjmg-h94x', 'org.springframework:spring-beans', '5.3.0', '5.3.18'),
  );
  writeFileSync(
    join(advisories, 'GHSA-test-jackson-core.json'),
    osv('GHSA-test-jackson-core', 'com.fasterxml.jackson.core:jackson-core', '2.9.0', '2.10.0'),
  );
  db = join(work, 'adv.db');
  const r = await runCli(['db', 'import', advisories, '--db', db, '-q']);
  expect(r.code, r.stderr).toBe(0);
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

async function scan(root: string, ...args: string[]): Promise<{ purl: string; path: string; id: string }[]> {
  const r = await runCli(['scan', '--db', db, '-q', '-f', 'json', ...args, `dir:${root}`]);
  expect(r.code, r.stderr).toBe(0);
  const out = JSON.parse(r.stdout) as {
    findings: {
      ruleId: string;
      kind: string;
      location: { path: string };
      vulnerability?: { package: { purl: string } };
    }[];
  };
  return out.findings
    .filter((f) => f.kind === 'vulnerability')
    .map((f) => ({
      purl: f.vulnerability?.package.purl ?? '',
      path: f.location.path,
      id: f.ruleId,
    }));
}

describe('scan of Java archives', () => {
  it("finds Spring4Shell in a Spring Boot application's spring-beans, a jar Gradle built with no pom.properties", async () => {
    const mf = Buffer.from(
      'Manifest-Version: 1.0\r\nImplementation-Title: spring-beans\r\nAutomatic-Module-Name: spring.beans\r\n' +
        'Implementation-Version: 5.3.17\r\nCreated-By: 1.8.0_322 (Oracle Corporation)\r\n\r\n',
    );
    const beans = makeZip([
      { name: 'META-INF/MANIFEST.MF', data: mf, method: 8 },
      { name: 'org/springframework/beans/BeanWrapper.class', data: Buffer.alloc(64, 0xca), method: 8 },
    ]);
    const app = makeZip([
      { name: 'META-INF/MANIFEST.MF', data: Buffer.from('Manifest-Version: 1.0\r\n\r\n'), method: 8 },
      {
        name: 'META-INF/maven/com.example/petclinic/pom.properties',
        data: Buffer.from('version=1.0\ngroupId=com.example\nartifactId=petclinic\n'),
        method: 8,
      },
      { name: 'BOOT-INF/lib/spring-beans-5.3.17.jar', data: beans, method: 0 },
    ]);
    const root = join(work, 'boot');
    mkdirSync(join(root, 'app'), { recursive: true });
    writeFileSync(join(root, 'app/petclinic.jar'), app);
    expect(await scan(root)).toEqual([
      {
        purl: 'pkg:maven/org.springframework/spring-beans@5.3.17',
        path: 'app/petclinic.jar!/BOOT-INF/lib/spring-beans-5.3.17.jar',
        id: 'GHSA-36p3-wjmg-h94x',
      },
    ]);
  });

  it("names a shaded jar with no pom of its own, so a VEX statement for the jar's copy of a dependency applies", async () => {
    const mf = Buffer.from(
      'Manifest-Version: 1.0\r\nImplementation-Title: mylib\r\nImplementation-Version: 2.3.4\r\n' +
        'Implementation-Vendor: Example Corp\r\nBundle-License: Apache-2.0\r\nBundle-SymbolicName: com.example.mylib\r\n\r\n',
    );
    const jar = makeZip([
      { name: 'META-INF/MANIFEST.MF', data: mf, method: 8 },
      {
        name: 'META-INF/maven/com.fasterxml.jackson.core/jackson-core/pom.properties',
        data: Buffer.from('version=2.9.10\ngroupId=com.fasterxml.jackson.core\nartifactId=jackson-core\n'),
        method: 8,
      },
    ]);
    const root = join(work, 'shaded');
    mkdirSync(join(root, 'opt/lib'), { recursive: true });
    writeFileSync(join(root, 'opt/lib/mylib-2.3.4.jar'), jar);
    const found = {
      purl: 'pkg:maven/com.fasterxml.jackson.core/jackson-core@2.9.10',
      path: 'opt/lib/mylib-2.3.4.jar',
      id: 'GHSA-test-jackson-core',
    };
    expect(await scan(root)).toEqual([found]);
    // mylib's vendor says its shaded jackson-core is not affected: the statement speaks for that copy.
    const vex = (product: string): string => {
      const file = join(work, `vex-${product.replace(/\W/g, '_')}.json`);
      writeFileSync(
        file,
        JSON.stringify({
          '@context': 'https://openvex.dev/ns/v0.2.0',
          '@id': 'https://example.com/vex/mylib',
          author: 'Example Corp',
          timestamp: '2024-01-01T00:00:00Z',
          version: 1,
          statements: [
            {
              vulnerability: { name: 'GHSA-test-jackson-core' },
              products: [
                { '@id': product, subcomponents: [{ '@id': 'pkg:maven/com.fasterxml.jackson.core/jackson-core' }] },
              ],
              status: 'not_affected',
              justification: 'vulnerable_code_not_in_execute_path',
            },
          ],
        }),
      );
      return file;
    };
    expect(await scan(root, '--vex', vex('pkg:maven/com.example/mylib@2.3.4'))).toEqual([]);
    expect(await scan(root, '--vex', vex('pkg:maven/com.example/otherlib@2.3.4'))).toEqual([found]);
  });
});
