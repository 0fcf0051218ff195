import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { secretFindings } from '../../src/checks/engine.js';
import type { ImageConfig } from '../../src/oci/manifest.js';
import { mask } from '../../src/secrets/redact.js';
import { SECRET_RULES } from '../../src/secrets/rules.js';
import { SecretScanner } from '../../src/secrets/scanner.js';
import { leaks, makeTokens, SETTINGS } from '../helpers/secrets.js';

const t = makeTokens();

function config(
  partial: Partial<NonNullable<ImageConfig['config']>>,
  history: ImageConfig['history'] = [],
): ImageConfig {
  return { architecture: 'amd64', os: 'linux', config: partial, rootfs: { type: 'layers', diff_ids: [] }, history };
}

describe('secret scanner: config and Dockerfile', () => {
  const scanner = new SecretScanner(SETTINGS);

  it('Env: token patterns and secret-named variables with a value; references, flags and public keys are not', () => {
    const hits = scanner.scanConfig(
      config({
        Env: [
          'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
          `AWS_SECRET_ACCESS_KEY=${t.awsSecret}`,
          `DB_PASSWORD=${t.password}`,
          'SHORT_TOKEN=abc123',
          'GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D',
          // biome-ignore lint/suspicious/noTemplateCurlyInString: the file's own ${VAR} reference, literally
          'NPM_TOKEN=${NPM_TOKEN}',
          'POSTGRES_PASSWORD_FILE=/run/secrets/db',
          'REDIS_PASSWORD=',
          'USE_TOKEN=true',
          `GITHUB=${t.ghp}`,
        ],
      }),
    );
    expect(hits.map((h) => [h.ruleId, h.where, h.path])).toEqual([
      ['aws-secret-access-key', 'env', 'AWS_SECRET_ACCESS_KEY'],
      ['env-secret', 'env', 'DB_PASSWORD'],
      ['github-token', 'env', 'GITHUB'],
      ['env-secret', 'env', 'SHORT_TOKEN'],
    ]);
    expect(hits.find((h) => h.path === 'SHORT_TOKEN')?.redacted).toBe('SHORT_TOKEN=******');
    for (const s of [t.awsSecret, t.password, t.ghp]) expect(leaks(hits, s)).toBe(false);
  });

  it('Labels and history (build arguments shown in created_by, ENV steps)', () => {
    const hits = scanner.scanConfig(
      config(
        {
          Labels: {
            'org.opencontainers.image.title': 'app',
            'ci.deploy-hook': `https://hooks.slack.com/services/${t.slackWebhookPath}`,
          },
        },
        [
          { created_by: '/bin/sh -c #(nop) ADD file:abc in / ' },
          { created_by: `|1 NPM_TOKEN=${t.npm} /bin/sh -c npm ci`, comment: 'buildkit' },
          { created_by: `ENV API_SECRET=${t.password}`, empty_layer: true },
          { created_by: 'RUN /bin/sh -c echo "PASSWORD=$PASSWORD" > /dev/null # buildkit' },
        ],
      ),
    );
    expect(hits.map((h) => [h.ruleId, h.where, h.path])).toEqual([
      ['slack-webhook', 'label', 'ci.deploy-hook'],
      ['npm-token', 'history', '1'],
      ['env-secret', 'history', '2'],
    ]);
    for (const s of [t.slackWebhookPath, t.npm, t.password]) expect(leaks(hits, s)).toBe(false);
  });

  it('a Dockerfile: hits with their lines', () => {
    const dockerfile = [
      'FROM node:20',
      'ARG NPM_TOKEN',
      `ENV DATABASE_PASSWORD=${t.password} \\`,
      '    NODE_ENV=production',
      `RUN curl -H "Authorization: token ${t.ghp}" https://api.github.com/repos/o/r`,
      'RUN echo done',
    ].join('\n');
    const hits = scanner.scanText(dockerfile, 'Dockerfile');
    expect(hits.map((h) => [h.ruleId, h.where, h.path, h.line])).toEqual([
      ['env-secret', 'file', 'Dockerfile', 3],
      ['github-token', 'file', 'Dockerfile', 5],
    ]);
    const findings = secretFindings(hits, SECRET_RULES, { image: 'oci:x', dockerfile: 'Dockerfile' });
    expect(findings.map((f) => f.ruleId)).toEqual(['env-secret', 'github-token']);
    for (const f of findings) {
      expect(f.message).not.toContain(t.password);
      expect(f.message).not.toContain(t.ghp);
    }
  });

  it('mask keeps at most 4 + 4 characters of 16 or more, none of fewer', () => {
    expect(mask('AKIAABCDEFGHIJKLMNOP')).toBe('AKIA************MNOP');
    expect(mask('0123456789abcde')).toBe('***************');
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 300 }), (s) => {
        const m = mask(s);
        const kept = [...m].filter((c) => c !== '*').length;
        expect(kept).toBeLessThanOrEqual(s.length >= 16 ? 8 : 0);
        if (s.length >= 16 && !/\*/.test(s)) expect(m.includes(s.slice(4, -4))).toBe(s.slice(4, -4) === '');
      }),
    );
  });
});
