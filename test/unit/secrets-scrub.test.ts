import { describe, expect, it } from 'vitest';
import { parseDockerfile } from '../../src/checks/dockerfile.js';
import { runMisconfigRules, secretFindings } from '../../src/checks/engine.js';
import { DEFAULT_SETTINGS } from '../../src/checks/settings.js';
import type { Subject } from '../../src/inventory/image.js';
import { labelsRule } from '../../src/policy/rules/labels.js';
import { SECRET_RULES } from '../../src/secrets/rules.js';
import { scrubSubject, scrubText } from '../../src/secrets/scrub.js';
import { ALNUM, makeKeys, makeTokens, random } from '../helpers/secrets.js';

/** Text that reports repeat from an image or a Dockerfile shows no secret a secret finding would mask. */
const t = makeTokens();
const pw = random(ALNUM, 20);

/** Whether any 9 characters of the secret appear in the text (the masks show 4 at each end). */
function leaks(text: string, secret: string): boolean {
  for (let i = 0; i + 9 <= secret.length; i++) if (text.includes(secret.slice(i, i + 9))) return true;
  return false;
}

describe('scrubText', () => {
  it.each([
    ['a token in a RUN line', `sudo env GITHUB_TOKEN=${t.ghp} make`, t.ghp],
    ['a password in a URL', `ADD https://deploy:${pw}@artifacts.corp.internal/app.tgz /app/`, pw],
    ['curl -u', `curl -fsSL -u deploy:${pw} https://files.internal/x`, pw],
    ['curl --user=', `curl --user=deploy:${pw} https://files.internal/x`, pw],
    ['wget --password', `wget --user deploy --password ${pw} https://files.internal/x`, pw],
    ['a secret-named build argument', `|1 DEPLOY_TOKEN=${pw} /bin/sh -c make`, pw],
    ['an npm token', `npm config set //registry.npmjs.org/:_authToken ${t.npm}`, t.npm],
  ])('masks %s', (_name, text, secret) => {
    const out = scrubText(text);
    expect(leaks(out, secret), out).toBe(false);
    expect(out).toContain('****');
  });

  it('leaves text without secrets as it is, and shows a private key as its BEGIN line only', () => {
    const plain = 'apt-get update && apt-get install -y curl ca-certificates';
    expect(scrubText(plain)).toBe(plain);
    const body = random(ALNUM, 64);
    const out = scrubText(`echo "-----BEGIN OPENSSH PRIVATE KEY-----\n${body}\n" > /root/.ssh/id`);
    expect(out).toContain('-----BEGIN OPENSSH PRIVATE KEY-----');
    expect(leaks(out, body)).toBe(false);
  });
});

describe('where reports repeat image text', () => {
  it("build rules' messages quote RUN lines and URLs with their secrets masked", () => {
    const text = `FROM debian:12\nADD https://deploy:${pw}@artifacts.corp.internal/app.tgz /app/\nRUN sudo env GITHUB_TOKEN=${t.ghp} make\n`;
    const build = { steps: parseDockerfile(text, 'Dockerfile').steps, from: 'dockerfile' as const, path: 'Dockerfile' };
    const findings = runMisconfigRules(
      { build: { ...build, settings: DEFAULT_SETTINGS } },
      { image: 'img', dockerfile: 'Dockerfile' },
    );
    const ids = findings.map((f) => f.ruleId);
    expect(ids).toEqual(expect.arrayContaining(['add-instead-of-copy', 'sudo-usage']));
    for (const f of findings) {
      expect(leaks(f.message, pw), f.message).toBe(false);
      expect(leaks(f.message, t.ghp), f.message).toBe(false);
    }
  });

  it('a secret finding names its file with a token in the path masked and control characters shown as ?', () => {
    const hits = [
      {
        ruleId: 'github-token',
        where: 'file' as const,
        path: `app/cache/${t.ghp}/config`,
        line: 1,
        redacted: 'ghp_****',
      },
      {
        ruleId: 'github-token',
        where: 'file' as const,
        path: 'app/x\u001b[2Kfake/.env',
        line: 1,
        redacted: 'ghp_****',
      },
    ];
    const [inPath, escaped] = secretFindings(hits, SECRET_RULES, { image: 'img' });
    expect(leaks(inPath?.message ?? '', t.ghp), inPath?.message).toBe(false);
    expect(escaped?.message).toContain('/app/x?[2Kfake/.env:1');
  });

  it('the subject in JSON reports: labels, annotations and history masked', () => {
    const subject: Subject = {
      kind: 'image',
      source: 'oci:x',
      labels: { DEPLOY_TOKEN: pw, version: '1.0', note: `pull with https://ci:${pw}@registry.internal` },
      annotations: { 'org.opencontainers.image.base.name': 'debian:12' },
      layers: [
        { index: 0, createdBy: `|1 NPM_TOKEN=${t.npm} /bin/sh -c npm ci` },
        { index: 1, createdBy: '/bin/sh -c make' },
      ],
    };
    const out = scrubSubject(subject);
    const text = JSON.stringify(out);
    expect(leaks(text, pw)).toBe(false);
    expect(leaks(text, t.npm)).toBe(false);
    expect(out.labels?.version).toBe('1.0');
    expect(out.annotations).toEqual(subject.annotations);
    expect(out.layers[1]).toBe(subject.layers[1]);
  });
});

describe('review findings on the masking', () => {
  const keys = makeKeys();

  it('a build rule quoting a long RUN line masks a token that straddles the cut', () => {
    for (const pad of [60, 80, 95, 110]) {
      const text = `FROM debian:12\nRUN sudo ${'x'.repeat(pad)} git clone --depth 1 https://x-access-token:${t.ghp}@github.com/o/r.git\n`;
      const build = {
        steps: parseDockerfile(text, 'Dockerfile').steps,
        from: 'dockerfile' as const,
        path: 'Dockerfile',
      };
      const findings = runMisconfigRules(
        { build: { ...build, settings: DEFAULT_SETTINGS } },
        { image: 'img', dockerfile: 'Dockerfile' },
      );
      expect(findings.some((f) => f.ruleId === 'sudo-usage')).toBe(true);
      for (const f of findings) expect(leaks(f.message, t.ghp.slice(4)), f.message).toBe(false);
    }
  });

  it('PuTTY keys, ENV NAME value and long texts are masked whole', () => {
    const ppk = keys['puttygen ed25519 (PPK v3)'] as string;
    const privateLines = ppk.split('Private-Lines:')[1]?.split('\n').slice(1, 2).join('') ?? '';
    expect(privateLines.length).toBeGreaterThan(20);
    expect(leaks(scrubText(`printf '${ppk}' > /root/k.ppk`), privateLines)).toBe(false);
    expect(leaks(scrubText(`/bin/sh -c #(nop) ENV DB_PASSWORD ${pw}`), pw)).toBe(false);
    const long = `${'a '.repeat(32 * 1024 - 10)}token ${t.ghp} end`;
    expect(leaks(scrubText(long), t.ghp.slice(4))).toBe(false);
  });

  it('the labels policy rule shows label values masked', () => {
    const url = `https://gitlab-ci-token:${pw}@gitlab.corp.internal/team/app.git`;
    const reasons = labelsRule.evaluate({
      policy: { rules: { labels: [{ key: 'org.opencontainers.image.source', value: 'https://.*' }] } },
      image: { labels: { 'org.opencontainers.image.source': url } },
    } as unknown as Parameters<typeof labelsRule.evaluate>[0]).reasons;
    expect(reasons.join('\n')).toContain('gitlab.corp.internal');
    expect(leaks(reasons.join('\n'), pw)).toBe(false);
  });

  it('a secret in a file path is masked in the location too', () => {
    const hits = [
      { ruleId: 'github-token', where: 'file' as const, path: `app/${t.ghp}/config`, line: 1, redacted: 'ghp_****' },
    ];
    const [f] = secretFindings(hits, SECRET_RULES, { image: 'img' });
    expect(leaks(JSON.stringify(f?.location), t.ghp.slice(4))).toBe(false);
  });
});
