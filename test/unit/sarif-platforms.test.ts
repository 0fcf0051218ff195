import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inventoryImage } from '../../src/inventory/image.js';
import { openOciLayout } from '../../src/oci/layout.js';
import { resolveImages } from '../../src/oci/source.js';
import { scanRun, toSarif } from '../../src/report/sarif.js';
import { makeTar } from '../helpers/layers.js';
import { LayoutWriter } from '../helpers/oci.js';

/** The SARIF categories of every platform of a layout's image, as `scan --all-platforms -f sarif` writes them. */
async function categories(dir: string): Promise<(string | undefined)[]> {
  const source = openOciLayout(dir, 'latest');
  try {
    const images = await resolveImages(source, { allPlatforms: true });
    const runs = [];
    for (const image of images) runs.push(scanRun(await inventoryImage(image), []));
    const log = toSarif(runs) as { runs: { automationDetails?: { id: string } }[] };
    return log.runs.map((r) => r.automationDetails?.id);
  } finally {
    await source.close();
  }
}

describe('SARIF categories of a multi-platform image', () => {
  it("tell Windows images apart by os.version (the config's, else the index entry's), and number the rest", async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'portcullis-sarif-platforms-')), 'layout');
    const w = new LayoutWriter(dir);
    const tar = await makeTar([{ path: 'etc/hostname', content: 'x\n' }]);
    const win = (v: string) => w.image([tar], { config: { os: 'windows', 'os.version': v } });
    const linux = w.image([tar]);
    const otherLinux = w.image([await makeTar([{ path: 'etc/hostname', content: 'y\n' }])]);
    const index = w.platformIndex([
      [win('10.0.17763.5458'), { os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763.5458' }],
      [win('10.0.20348.2227'), { os: 'windows', architecture: 'amd64', 'os.version': '10.0.20348.2227' }],
      // one manifest listed twice, told apart only by the index entries' os.version
      [linux, { os: 'linux', architecture: 'amd64', 'os.version': 'a' }],
      [linux, { os: 'linux', architecture: 'amd64', 'os.version': 'b' }],
      // two images for one platform (an entry listed twice is assessed once)
      [linux, { os: 'linux', architecture: 'amd64' }],
      [otherLinux, { os: 'linux', architecture: 'amd64' }],
      [linux, { os: 'linux', architecture: 'amd64' }],
    ]);
    w.index([{ ...index, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }]);
    const repo = dir.replace(/^\/+/, '');
    expect(await categories(dir)).toEqual([
      `portcullis/${repo}/windows-amd64-10.0.17763.5458/`,
      `portcullis/${repo}/windows-amd64-10.0.20348.2227/`,
      `portcullis/${repo}/linux-amd64-a/`,
      `portcullis/${repo}/linux-amd64-b/`,
      `portcullis/${repo}/linux-amd64/`,
      `portcullis/${repo}/linux-amd64-2/`,
    ]);
  });
});
