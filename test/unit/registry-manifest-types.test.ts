import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PortcullisError } from '../../src/errors.js';
import { RegistryClient } from '../../src/oci/registry/client.js';
import { RegistryRepository } from '../../src/oci/registry/push.js';
import { FakeRegistry } from '../helpers/fakeregistry.js';

let reg: FakeRegistry;
let client: RegistryClient;
beforeAll(async () => {
  reg = await new FakeRegistry().start();
  client = new RegistryClient(reg.host, { ...reg.options(), env: {} });
});
afterAll(async () => {
  client.close();
  await reg.close();
});

const failure = (p: Promise<unknown>) =>
  p.then(
    () => expect.unreachable(),
    (e: unknown) => e as PortcullisError,
  );
const schema1 = (tag: string) =>
  Buffer.from(JSON.stringify({ schemaVersion: 1, name: 'app', tag, architecture: 'amd64', fsLayers: [], history: [] }));

describe('the Content-Type of a manifest', () => {
  it('a Docker schema 1 manifest, signed (+prettyjws) or not, is an unsupported media type, not a broken registry', async () => {
    reg.putManifest('app', schema1('signed'), 'application/vnd.docker.distribution.manifest.v1+prettyjws', 'signed');
    reg.putManifest('app', schema1('plain'), 'application/vnd.docker.distribution.manifest.v1+json', 'plain');
    for (const tag of ['signed', 'plain']) {
      const err = await failure(new RegistryRepository(client, 'app').getManifest(tag));
      expect(err.code).toBe('UNSUPPORTED_MEDIA_TYPE');
      expect(err.message).toMatch(/Docker schema 1 manifests are not supported/);
    }
  });

  it('an answer that is no manifest type at all is the registry failing', async () => {
    reg.putManifest('app', Buffer.from('{"schemaVersion":2}'), 'text/html', 'html');
    const err = await failure(new RegistryRepository(client, 'app').getManifest('html'));
    expect(err.code).toBe('REGISTRY_ERROR');
    expect(err.message).toMatch(/answered text\/html instead of a manifest/);
  });
});
