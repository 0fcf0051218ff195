import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { secretFindings } from '../../src/checks/engine.js';
import type { ImageConfig } from '../../src/oci/manifest.js';
import { mask } from '../../src/secrets/redact.js';
import { SECRET_RULES } from '../../src/secrets/rules.js';
import { SecretScanner } from '../../src/secrets/scanner.js';
import { leaks, makeKeys, makeTokens, SETTINGS } from '../helpers/secrets.js';

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
      ['env-secret', 'dockerfile', 'Dockerfile', 3],
      ['github-token', 'dockerfile', 'Dockerfile', 5],
    ]);
    const findings = secretFindings(hits, SECRET_RULES, { image: 'oci:x', dockerfile: 'Dockerfile' });
    // The Dockerfile's own location, built by the engine from the hit: the file and line, not the image.
    expect(findings.map((f) => [f.ruleId, f.location, f.confidence])).toEqual([
      ['env-secret', { kind: 'file', path: 'Dockerfile', line: 3 }, 'medium'],
      ['github-token', { kind: 'file', path: 'Dockerfile', line: 5 }, 'high'],
    ]);
    expect(findings[0]?.message).toBe(
      `Secret in an environment variable or build argument in Dockerfile:3: DATABASE_PASSWORD=${mask(t.password)}`,
    );
    expect(findings[1]?.message).toMatch(/^GitHub token in Dockerfile:5: /);
    for (const f of findings) {
      expect(f.message).not.toContain(t.password);
      expect(f.message).not.toContain(t.ghp);
    }
    // A path as given keeps its own form: no slash is added in front.
    const nested = secretFindings(scanner.scanText(dockerfile, 'build/Dockerfile.prod'), SECRET_RULES, {
      image: 'oci:x',
    });
    expect(nested[0]?.message).toMatch(/ in build\/Dockerfile\.prod:3: /);
    expect(nested[0]?.location).toEqual({ kind: 'file', path: 'build/Dockerfile.prod', line: 3 });
  });

  it('names: API_KEY, SECRET_KEY, *_TOKEN, *PASSWORD and the like, never a bare *_KEY', () => {
    const v = 'r8Kx2mQ7vLp4';
    const secret = [
      'API_KEY',
      'APIKEY',
      'STRIPE_API_KEY',
      'SECRET_KEY',
      'DJANGO_SECRET_KEY',
      'SECRET_KEY_BASE',
      'JWT_PRIVATE_KEY',
      'MINIO_ACCESS_KEY',
      'APP_ENCRYPTION_KEY',
      'NEW_RELIC_LICENSE_KEY',
      'NPM_TOKEN',
      'CLIENT_SECRET',
      'SECRET',
      'MYSQL_ROOT_PASSWORD',
      'DBPASSWORD',
      'LDAP_PASSWD',
      'DB_PASS',
      'DB_PWD',
      'GOOGLE_CREDENTIALS',
      // Public-material words count only as whole parts of a name, and never make a password's name public.
      'PGPASSWORD',
      'GPG_PASSPHRASE',
      'GPG_PRIVATE_KEY',
      'PUBLICATION_TOKEN',
      // Label keys: dots and dashes read as underscores.
      'org.acme.deploy-token',
      'com.example.api-key',
    ];
    const notSecret = [
      'CACHE_KEY',
      'PRIMARY_KEY',
      'SORT_KEY',
      'PARTITION_KEY',
      'KEY',
      'GPG_KEY',
      'SSH_PUBLIC_KEY',
      'STRIPE_PUBLISHABLE_KEY',
      'PYTHON_GPG_KEY',
      'TOKEN_URL',
      'PASSWORD_FILE',
      'PWD',
      'OLDPWD',
      'KEYCLOAK_REALM',
      'TOKENIZER',
      'SECRETS_DIR',
    ];
    const hits = scanner.scanConfig(config({ Env: [...secret, ...notSecret].map((n) => `${n}=${v}`) }));
    expect(hits.map((h) => h.path).sort()).toEqual([...secret].sort());
    expect(new Set(hits.map((h) => [h.ruleId, h.confidence].join(' ')))).toEqual(new Set(['env-secret medium']));
    const findings = secretFindings(hits, SECRET_RULES, { image: 'oci:x' });
    expect(new Set(findings.map((f) => f.confidence))).toEqual(new Set(['medium']));
  });

  it('a build argument in every later history entry, or an ENV also in Env, is one finding, at its first entry', () => {
    const ghp = t.ghp;
    const other = makeTokens().password;
    const history = [
      { created_by: '/bin/sh -c #(nop) ADD file:abc in / ' },
      { created_by: `ARG NPM_TOKEN=${t.npm}`, empty_layer: true },
      { created_by: `|2 NPM_TOKEN=${t.npm} DEPLOY_TOKEN=${t.password} /bin/sh -c npm ci` },
      { created_by: `|2 NPM_TOKEN=${t.npm} DEPLOY_TOKEN=${t.password} /bin/sh -c npm run build` },
      { created_by: `|2 NPM_TOKEN=${t.npm} DEPLOY_TOKEN=${t.password} /bin/sh -c npm prune` },
      { created_by: `ENV GITHUB_TOKEN=${ghp}`, empty_layer: true },
      { created_by: `|2 NPM_TOKEN=${t.npm} DEPLOY_TOKEN=${other} /bin/sh -c deploy` },
    ];
    const hits = scanner.scanConfig(config({ Env: [`GITHUB_TOKEN=${ghp}`] }, history));
    expect(hits.map((h) => [h.ruleId, h.where, h.path])).toEqual([
      ['github-token', 'env', 'GITHUB_TOKEN'],
      ['npm-token', 'history', '1'],
      ['env-secret', 'history', '2'],
      // Another value under the same name is another secret.
      ['env-secret', 'history', '6'],
    ]);
    for (const s of [t.npm, t.password, other, ghp]) expect(leaks(hits, s)).toBe(false);
  });

  it('two different private keys are two findings (both show only the same BEGIN line)', () => {
    const keys = makeKeys();
    const a = keys['ssh-keygen ed25519'] as string;
    const b = keys['ssh-keygen rsa'] as string;
    const c = keys['ssh-keygen ed25519 with passphrase'] as string;
    const hits = scanner.scanConfig(config({ Env: [`DEPLOY_SSH_KEY=${a}`, `BACKUP_SSH_KEY=${b}`, `OTHER_KEY=${c}`] }));
    expect(hits.map((h) => `${h.ruleId} ${h.path}`).sort()).toEqual([
      'private-key BACKUP_SSH_KEY',
      'private-key DEPLOY_SSH_KEY',
      'private-key OTHER_KEY',
    ]);
  });

  it('ENV NAME value (the form without =) in Dockerfiles and history ENV steps', () => {
    const dockerfile = [
      'FROM postgres:16',
      'ENV DB_PASSWORD changeme',
      'env API_TOKEN "s3cr3t-value"',
      'ENV PGDATA /var/lib/pg',
      'ENV DB_PASSWORD_FILE /run/secrets/db',
      'RUN echo ENV DB_PASSWORD x',
    ].join('\n');
    expect(scanner.scanText(dockerfile, 'Dockerfile').map((h) => [h.ruleId, h.line, h.redacted, h.confidence])).toEqual(
      [
        ['env-secret', 2, 'ENV DB_PASSWORD ********', 'medium'],
        ['env-secret', 3, 'env API_TOKEN "************', 'medium'],
      ],
    );
    const hits = scanner.scanConfig(
      config({}, [{ created_by: '/bin/sh -c #(nop)  ENV DB_PASSWORD changeme', empty_layer: true }]),
    );
    expect(hits.map((h) => [h.ruleId, h.where, h.path])).toEqual([['env-secret', 'history', '0']]);
    expect(hits[0]?.redacted).not.toContain('changeme');
  });

  it('passwords in URLs: database DSNs and Git remotes, not placeholders, references or documentation hosts', () => {
    const pw = t.password;
    const env = [
      `DATABASE_URL=postgres://app:${pw}@db.internal:5432/app`,
      `REDIS_URL=redis://:${pw}@cache:6379/0`,
      `MONGO=mongodb+srv://svc:${pw}@cluster0.abcde.mongodb.net/prod?retryWrites=true`,
      `GIT_REMOTE=https://deploy:${pw}@github.com/o/r.git`,
      // Placeholders and references, documentation hosts and defaults.
      'A_URL=postgres://user:password@host/db',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a ${VAR} reference, literally
      'B_URL=https://x-access-token:${GITHUB_TOKEN}@github.com/o/r',
      'C_URL=https://user:@host/',
      'D_URL=https://user:<password>@host/',
      'E_URL=https://user:$PASS@host/',
      `F_URL=https://user:${pw}@db.example.com/`,
      'G_URL=amqp://guest:guest@rabbitmq:5672/',
      'H_URL=http://a:b@host/',
      'I_URL=https://user:{password}@host/',
      'J_URL=https://host:8443/path@x',
      'K_URL=https://user:your_password@host/',
      // A token a provider rule names is reported by that rule, once.
      `L_URL=https://x:${t.ghp}@github.com/o/r`,
    ];
    const hits = scanner.scanConfig(config({ Env: env }));
    expect(hits.map((h) => [h.ruleId, h.path, h.confidence ?? 'high'])).toEqual([
      ['url-credentials', 'DATABASE_URL', 'medium'],
      ['url-credentials', 'GIT_REMOTE', 'medium'],
      ['github-token', 'L_URL', 'high'],
      ['url-credentials', 'MONGO', 'medium'],
      ['url-credentials', 'REDIS_URL', 'medium'],
    ]);
    expect(hits[0]?.redacted).toBe(`postgres://app:${mask(pw)}@db.internal`);
    for (const s of [pw, t.ghp]) expect(leaks(hits, s)).toBe(false);
    // In a Dockerfile and in the history too.
    const df = scanner.scanText(`FROM alpine\nRUN git clone https://ci:${pw}@gitlab.internal/o/r.git\n`, 'Dockerfile');
    expect(df.map((h) => [h.ruleId, h.line])).toEqual([['url-credentials', 2]]);
  });

  it('mask keeps 4 + 4 characters of 32 or more, the last 4 of 20 to 31, none of fewer', () => {
    expect(mask(`ghp_${'a1B2'.repeat(9)}`)).toBe(`ghp_${'*'.repeat(32)}a1B2`);
    expect(mask('AKIAABCDEFGHIJKLMNOP')).toBe('****************MNOP');
    expect(mask('Tr0ub4dor&3xyzAB')).toBe('****************');
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 300 }), (s) => {
        const m = mask(s);
        const kept = [...m].filter((c) => c !== '*').length;
        expect(kept).toBeLessThanOrEqual(s.length >= 32 ? 8 : s.length >= 20 ? 4 : 0);
        // What stays hidden: at least 24 characters of a long secret, all but 4 of a shorter one.
        if (!/\*/.test(s)) {
          const hidden = s.length >= 32 ? s.slice(4, -4) : s.length >= 20 ? s.slice(0, -4) : s;
          expect(m.includes(hidden)).toBe(false);
        }
      }),
    );
  });
});
