import { describe, expect, it } from 'vitest';
import { secretFindings } from '../../src/checks/engine.js';
import { SECRET_RULES } from '../../src/secrets/rules.js';
import { ALNUM, leaks, makeKeys, makeTokens, random, scanFiles } from '../helpers/secrets.js';

/**
 * Every secret rule against realistic positives (keys made by openssl, ssh-keygen and puttygen; tokens in the
 * providers' formats with random bodies) and near-miss negatives, through a real layer walk.
 */
const keys = makeKeys();
const t = makeTokens();

type Case = { name: string; path: string; content: string; secret?: string; rule: string; line?: number };

const positives: Case[] = [
  ...Object.entries(keys)
    .filter(([k]) => !k.includes('public'))
    .map(([name, content]) => ({ name, path: 'root/.ssh/key', content: `${content}`, rule: 'private-key', line: 1 })),
  {
    name: 'PEM key inside a JSON string (escaped newlines)',
    path: 'srv/app/config.json',
    content: `{\n  "tls": {\n    "key": ${JSON.stringify(keys['openssl EC (PKCS#8)'])}\n  }\n}\n`,
    rule: 'private-key',
    line: 3,
  },
  {
    name: 'AWS access key id in ~/.aws/credentials',
    path: 'root/.aws/credentials',
    content: `[default]\naws_access_key_id = ${t.awsKeyId}\n`,
    secret: t.awsKeyId,
    rule: 'aws-access-key-id',
    line: 2,
  },
  {
    name: 'AWS temporary key id (ASIA) in a script',
    path: 'opt/run.sh',
    content: `#!/bin/sh\nexport AWS_ACCESS_KEY_ID="${t.awsStsKeyId}"\n`,
    secret: t.awsStsKeyId,
    rule: 'aws-access-key-id',
    line: 2,
  },
  {
    name: 'AWS secret access key in ~/.aws/credentials',
    path: 'root/.aws/credentials',
    content: `[default]\nregion = eu-west-1\naws_secret_access_key = ${t.awsSecret}\n`,
    secret: t.awsSecret,
    rule: 'aws-secret-access-key',
    line: 3,
  },
  {
    name: 'AWS secret access key as a dashed YAML key',
    path: 'srv/app/config.yaml',
    content: `aws:\n  aws-secret-access-key: ${t.awsSecret}\n`,
    secret: t.awsSecret,
    rule: 'aws-secret-access-key',
    line: 2,
  },
  {
    name: 'AWS secret access key in STS JSON output',
    path: 'tmp/creds.json',
    content: JSON.stringify({ Credentials: { AccessKeyId: 'x', SecretAccessKey: t.awsSecret } }, null, 2),
    secret: t.awsSecret,
    rule: 'aws-secret-access-key',
    line: 4,
  },
  {
    name: 'GCP service account JSON',
    path: 'srv/sa.json',
    content: JSON.stringify(
      {
        type: 'service_account',
        project_id: 'demo-project',
        private_key_id: random('0123456789abcdef', 40),
        private_key: keys['openssl RSA (PKCS#8)'],
        client_email: 'builder@demo-project.iam.gserviceaccount.com',
      },
      null,
      2,
    ),
    rule: 'gcp-service-account',
    line: 2,
  },
  {
    name: 'Azure storage connection string',
    path: 'srv/appsettings.json',
    content: `{ "Storage": "DefaultEndpointsProtocol=https;AccountName=demo;AccountKey=${t.azureKey};EndpointSuffix=core.windows.net" }`,
    secret: t.azureKey,
    rule: 'azure-storage-key',
    line: 1,
  },
  { name: 'GitHub classic PAT', path: 'app/.github-token', content: `${t.ghp}\n`, secret: t.ghp, rule: 'github-token' },
  {
    name: 'GitHub app installation token',
    path: 'app/ci.sh',
    content: `git clone https://x-access-token:${t.ghs}@github.com/o/r\n`,
    secret: t.ghs,
    rule: 'github-token',
  },
  {
    name: 'GitHub fine-grained PAT',
    path: 'app/config.yaml',
    content: `github:\n  token: ${t.githubPat}\n`,
    secret: t.githubPat,
    rule: 'github-token',
    line: 2,
  },
  { name: 'GitLab PAT', path: 'app/env.sh', content: `GL=${t.glpat}\n`, secret: t.glpat, rule: 'gitlab-token' },
  { name: 'npm token', path: 'app/publish.sh', content: `npm_token=${t.npm}\n`, secret: t.npm, rule: 'npm-token' },
  { name: 'PyPI token', path: 'app/upload.py', content: `TOKEN = "${t.pypi}"\n`, secret: t.pypi, rule: 'pypi-token' },
  {
    name: 'Slack bot token',
    path: 'app/bot.js',
    content: `const t = '${t.slackBot}';\n`,
    secret: t.slackBot,
    rule: 'slack-token',
  },
  {
    name: 'Slack user token',
    path: 'app/u.txt',
    content: `${t.slackUser}\n`,
    secret: t.slackUser,
    rule: 'slack-token',
  },
  {
    name: 'Slack webhook',
    path: 'app/notify.sh',
    content: `curl -X POST https://hooks.slack.com/services/${t.slackWebhookPath} -d @msg.json\n`,
    secret: t.slackWebhookPath,
    rule: 'slack-webhook',
  },
  {
    name: 'Stripe live secret key',
    path: 'app/pay.rb',
    content: `Stripe.api_key = "${t.stripe}"\n`,
    secret: t.stripe,
    rule: 'stripe-key',
  },
  {
    name: 'Stripe restricted key',
    path: 'app/pay.py',
    content: `KEY='${t.stripeRestricted}'\n`,
    secret: t.stripeRestricted,
    rule: 'stripe-key',
  },
  {
    name: 'Google API key',
    path: 'app/maps.js',
    content: `key: "${t.google}",\n`,
    secret: t.google,
    rule: 'google-api-key',
  },
  {
    name: '.npmrc with _auth',
    path: 'root/.npmrc',
    content: `registry=https://npm.example.com/\n//npm.example.com/:_auth=${Buffer.from(`ci:${t.password}`).toString('base64')}\n`,
    secret: Buffer.from(`ci:${t.password}`).toString('base64'),
    rule: 'npmrc-auth',
    line: 2,
  },
  {
    name: '.npmrc with _authToken (token named by the npm rule)',
    path: 'home/node/.npmrc',
    content: `//registry.npmjs.org/:_authToken=${t.npm}\n`,
    secret: t.npm,
    rule: 'npm-token',
  },
  {
    name: '.pypirc with a password',
    path: 'root/.pypirc',
    content: `[distutils]\nindex-servers = private\n\n[private]\nrepository = https://pypi.example.com\nusername = ci\npassword = ${t.password}\n`,
    secret: t.password,
    rule: 'pypirc-password',
    line: 7,
  },
  {
    name: 'Docker config.json with auth',
    path: 'root/.docker/config.json',
    content: JSON.stringify({
      auths: { 'registry.example.com': { auth: Buffer.from(`ci:${t.password}`).toString('base64') } },
    }),
    secret: Buffer.from(`ci:${t.password}`).toString('base64'),
    rule: 'docker-config-auth',
  },
  {
    name: '.git-credentials',
    path: 'root/.git-credentials',
    content: `https://ci:${t.password}@git.example.com\n`,
    secret: t.password,
    rule: 'git-credentials',
  },
  {
    name: '.env with a password',
    path: 'srv/app/.env',
    content: `DB_HOST=db\nDB_PASSWORD="${t.password}"\n`,
    secret: t.password,
    rule: 'dotenv-secret',
    line: 2,
  },
  {
    name: '.env.production with an API key',
    path: 'srv/app/.env.production',
    content: `# prod\nexport MAILER_API_KEY=${t.password}\n`,
    secret: t.password,
    rule: 'dotenv-secret',
    line: 2,
  },
  {
    name: 'database URL with a password in a config file',
    path: 'srv/app/config/database.yml',
    content: `production:\n  url: postgresql://app:${t.password}@db.internal:5432/app\n`,
    secret: t.password,
    rule: 'url-credentials',
    line: 2,
  },
  {
    name: 'Git remote with a token in .git/config',
    path: 'srv/app/.git/config',
    content: `[remote "origin"]\n\turl = https://deploy:${t.password}@gitlab.internal/o/r.git\n`,
    secret: t.password,
    rule: 'url-credentials',
    line: 2,
  },
  {
    name: '.env in an application test directory (not allow-listed)',
    path: 'srv/app/tests/.env',
    content: `DB_PASSWORD=${t.password}\n`,
    secret: t.password,
    rule: 'dotenv-secret',
  },
];

const negatives: Case[] = [
  { name: 'ssh public key', path: 'root/.ssh/id_ed25519.pub', content: keys['ssh public key'] as string, rule: '' },
  {
    name: 'code that names a PEM header without a key',
    path: 'usr/lib/python3/dist-packages/x/pem.py',
    content: 'if line.startswith("-----BEGIN RSA PRIVATE KEY-----"):\n    kind = "rsa"\n',
    rule: '',
  },
  { name: "AWS's documentation key id", path: 'app/a.txt', content: 'AKIAIOSFODNN7EXAMPLE\n', rule: '' },
  {
    name: "AWS's documentation secret",
    path: 'app/b.txt',
    content: 'aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n',
    rule: '',
  },
  { name: 'key id inside a longer word', path: 'app/c.txt', content: `X${t.awsKeyId}9\n`, rule: '' },
  {
    name: 'secret access key too short',
    path: 'app/d.txt',
    content: `aws_secret_access_key = ${random(ALNUM, 30)}\n`,
    rule: '',
  },
  {
    name: 'authorized_user JSON',
    path: 'app/adc.json',
    content: '{"type": "authorized_user", "client_id": "x", "refresh_token": "y"}',
    rule: '',
  },
  { name: 'AccountKey placeholder', path: 'app/e.json', content: '"AccountKey=<your key>"', rule: '' },
  { name: 'GitHub token one char short', path: 'app/f.txt', content: `ghp_${random(ALNUM, 35)}\n`, rule: '' },
  { name: 'GitHub token placeholder', path: 'app/g.txt', content: `ghp_${'x'.repeat(36)}\n`, rule: '' },
  {
    name: 'npm config variable',
    path: 'app/h.sh',
    content: 'npm_config_cache=/tmp/npm npm_package_version=1.0.0\n',
    rule: '',
  },
  { name: 'PyPI prefix alone', path: 'app/i.txt', content: 'pypi-AgEIcHlwaS5vcmc\n', rule: '' },
  { name: 'Slack token placeholder', path: 'app/j.txt', content: 'SLACK_TOKEN=xoxb-your-token-here\n', rule: '' },
  { name: 'Slack webhook base URL', path: 'app/k.txt', content: 'https://hooks.slack.com/services/\n', rule: '' },
  { name: 'Stripe test key', path: 'app/l.txt', content: `sk_test_${random(ALNUM, 24)}\n`, rule: '' },
  { name: 'Google key one char short', path: 'app/m.txt', content: `AIza${random(ALNUM, 34)}\n`, rule: '' },
  {
    name: '.npmrc token from the environment',
    path: 'root/.npmrc',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the file's own ${VAR} reference, literally
    content: '//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n',
    rule: '',
  },
  { name: '.pypirc without password', path: 'root/.pypirc', content: '[pypi]\nusername = __token__\n', rule: '' },
  {
    name: 'Docker config with a credential helper only',
    path: 'root/.docker/config.json',
    content: JSON.stringify({ auths: { 'registry.example.com': {} }, credsStore: 'desktop' }),
    rule: '',
  },
  {
    name: '.git-credentials without password',
    path: 'root/.git-credentials',
    content: 'https://git.example.com\n',
    rule: '',
  },
  {
    name: '.env without secrets',
    path: 'srv/.env',
    content: 'DB_HOST=db\nDB_PASSWORD=\nGPG_KEY=ABCDEF0123456789\n',
    rule: '',
  },
  { name: '.env.example', path: 'srv/.env.example', content: `DB_PASSWORD=${t.password}\n`, rule: '' },
  {
    name: 'placeholder words in a .env',
    path: 'srv/.env',
    content: 'API_KEY=your-api-key-here\nAUTH_TOKEN=replace-me\nCLIENT_SECRET=placeholder\nGH_TOKEN=YOUR_TOKEN_HERE\n',
    rule: '',
  },
  {
    name: 'URLs in library docstrings and tests: placeholders, defaults, references',
    path: 'srv/app/lib/db.py',
    content: [
      'engine = create_engine("postgresql+psycopg2://scott:tiger@localhost/test")',
      'BROKER = "amqp://guest:guest@localhost:5672//"',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a ${VAR} reference, literally
      'REMOTE = "https://oauth2:${CI_JOB_TOKEN}@gitlab.com/o/r.git"',
      'DSN = "mysql://user:password@host/db"',
      'PROXY = "http://user:<password>@proxy:3128"',
      'DOC = "https://admin:s3cretpw@db.example.com/"',
      'EMPTY = "ftp://anonymous:@ftp.host/"',
      'HOSTPORT = "https://host:8443/path@other"',
    ].join('\n'),
    rule: '',
  },
  {
    name: 'password assignment outside credential files',
    path: 'srv/notes.txt',
    content: `password = ${t.password}\n`,
    rule: '',
  },
];

describe('secret rules', () => {
  it('every rule is described: kebab-case id, secret kind, CIS 4.10, rationale and remediation', () => {
    const ids = SECRET_RULES.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const r of SECRET_RULES) {
      expect(r.id).toMatch(/^[a-z0-9]+(?:-[a-z0-9]+)*$/);
      expect(r.kind).toBe('secret');
      expect(r.cis).toBe('4.10');
      expect(r.rationale.length).toBeGreaterThan(20);
      expect(r.remediation.length).toBeGreaterThan(20);
      expect(r.pattern.flags).toContain('g');
      expect(r.pattern.flags).toContain('d');
    }
  });

  it.each(positives)('finds $name', async (c) => {
    const hits = await scanFiles([{ path: c.path, content: c.content }]);
    const mine = hits.filter((h) => h.ruleId === c.rule);
    expect(mine.length, JSON.stringify(hits)).toBeGreaterThanOrEqual(1);
    const hit = mine[0];
    expect(hit?.path).toBe(c.path);
    expect(hit?.layer).toBe(0);
    expect(hit?.deleted).toBeUndefined();
    if (c.line) expect(hit?.line).toBe(c.line);
    if (c.secret) {
      expect(leaks(hits, c.secret)).toBe(false);
      if (c.secret.length >= 20) expect(hit?.redacted).toContain(c.secret.slice(-4));
    }
    // Findings built from the hits do not carry the secret either.
    const findings = secretFindings(hits, SECRET_RULES, { image: 'oci:x' });
    if (c.secret) expect(findings.some((f) => f.message.includes(c.secret as string))).toBe(false);
  });

  it.each(negatives)('does not report $name', async (c) => {
    expect(await scanFiles([{ path: c.path, content: c.content }])).toEqual([]);
  });

  it('a private key shows only its BEGIN line, never its body', async () => {
    for (const [name, pem] of Object.entries(keys)) {
      if (name.includes('public')) continue;
      const hits = await scanFiles([{ path: 'k', content: pem }]);
      expect(hits.map((h) => h.redacted)).toEqual([pem.split('\n')[0]]);
      for (const line of pem.split('\n').slice(1)) {
        if (line.length >= 16 && !line.includes(':') && !line.startsWith('-----'))
          expect(leaks(hits, line)).toBe(false);
      }
    }
  });

  it('the GCP key file also names its private key, and shows the private_key_id masked', async () => {
    const c = positives.find((p) => p.rule === 'gcp-service-account') as Case;
    const hits = await scanFiles([{ path: c.path, content: c.content }]);
    expect(hits.map((h) => h.ruleId).sort()).toEqual(['gcp-service-account', 'private-key']);
    const id = JSON.parse(c.content).private_key_id as string;
    expect(hits[0]?.redacted).toContain(`${id.slice(0, 4)}`);
    expect(leaks(hits, id)).toBe(false);
  });

  it("a URL password in a credential file is reported once, by the file's own rule", async () => {
    const hits = await scanFiles([
      { path: 'root/.git-credentials', content: `https://ci:${t.password}@github.com\n` },
      { path: 'root/.npmrc', content: `registry=https://ci:${t.password}@npm.internal/\n` },
    ]);
    expect(hits.map((h) => [h.ruleId, h.path, h.confidence ?? 'high'])).toEqual([
      ['git-credentials', 'root/.git-credentials', 'high'],
      // No .npmrc rule matches `registry=`: the URL's password is still found.
      ['url-credentials', 'root/.npmrc', 'medium'],
    ]);
    expect(leaks(hits, t.password)).toBe(false);
  });

  it('a URL password holding an @ is masked whole (the host follows the last @), and a token as user name too', async () => {
    const [head, tail] = [random(ALNUM, 12), random(ALNUM, 12)];
    const hits = await scanFiles([
      {
        path: 'srv/app/.env.local.sh',
        content: `DATABASE_URL=postgres://app:${head}@${tail}@db.internal:5432/app
`,
      },
      {
        path: 'srv/app/clone.sh',
        content: `git clone https://${t.ghp}:x-oauth-basic@github.com/o/r.git
`,
      },
    ]);
    const url = hits.find((h) => h.ruleId === 'url-credentials' && h.path === 'srv/app/.env.local.sh');
    expect(url?.redacted).toMatch(/^postgres:\/\/app:\*+[A-Za-z0-9]{4}@db\.internal$/);
    expect(leaks(hits, `${head}@${tail}`) || hits.some((h) => h.redacted.includes(tail))).toBe(false);
    expect(hits.filter((h) => h.path === 'srv/app/clone.sh').map((h) => h.ruleId)).toContain('github-token');
    expect(leaks(hits, t.ghp)).toBe(false);
  });

  it('Slack app-level and rotating tokens; .env files with several suffixes and compose env files', async () => {
    const xapp = `xapp-1-A0${random(ALNUM, 9)}-${random('0123456789', 13)}-${random('0123456789abcdef', 64)}`;
    const xoxe = `xoxe.xoxp-1-${random(ALNUM, 120)}`;
    const hits = await scanFiles([
      { path: 'srv/app/slack.yaml', content: `app_token: ${xapp}\nrefresh: ${xoxe}\n` },
      { path: 'srv/app/.env.production.local', content: `API_TOKEN=${t.password}\n` },
      { path: 'srv/compose/db.env', content: `POSTGRES_PASSWORD=${t.password}\n` },
      { path: 'srv/app/.env.production.example', content: `API_TOKEN=${t.password}\n` },
    ]);
    expect(hits.map((h) => `${h.ruleId} ${h.path}`).sort()).toEqual([
      'dotenv-secret srv/app/.env.production.local',
      'dotenv-secret srv/compose/db.env',
      'slack-token srv/app/slack.yaml',
      'slack-token srv/app/slack.yaml',
    ]);
    expect(leaks(hits, xapp) || leaks(hits, xoxe)).toBe(false);
  });

  it("installed libraries' code yields provider tokens only: example DSNs there are not URL passwords", async () => {
    const hits = await scanFiles([
      {
        path: 'srv/app/node_modules/dotenv/lib/main.js',
        content: `// DOTENV_KEY='dotenv://:key_1234@dotenvx.com/vault/.env.vault?environment=production'\nconst u = 'https://x:${t.password}@db.internal/x';\nconst k = '${t.ghp}';\n`,
      },
      { path: 'srv/app/config.js', content: `const u = 'https://x:${t.password}@db.internal/x';\n` },
    ]);
    expect(hits.map((h) => [h.ruleId, h.path])).toEqual([
      ['url-credentials', 'srv/app/config.js'],
      ['github-token', 'srv/app/node_modules/dotenv/lib/main.js'],
    ]);
  });

  it('kubeconfigs, .netrc and apt auth files, base64 private keys and JWTs', async () => {
    const b64url = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const jwt = (alg: string, payload: unknown) =>
      `${b64url({ alg, typ: 'JWT' })}.${b64url(payload)}.${random(`${ALNUM}-_`, 43)}`;
    const sa = jwt('RS256', { iss: 'kubernetes/serviceaccount', sub: 'system:serviceaccount:ci:deployer' });
    const keyB64 = Buffer.from(keys['openssl EC (PKCS#8)'] as string).toString('base64');
    const certB64 = Buffer.from(
      '-----BEGIN CERTIFICATE-----\nMIIBkTCB+wIJAKHHIG...\n-----END CERTIFICATE-----\n',
    ).toString('base64');
    const kubeconfig = [
      'apiVersion: v1',
      'kind: Config',
      'users:',
      '- name: admin',
      '  user:',
      `    client-key-data: ${keyB64}`,
      '- name: deployer',
      '  user:',
      `    token: ${sa}`,
      '',
    ].join('\n');
    const hits = await scanFiles([
      { path: 'root/.kube/config', content: kubeconfig },
      { path: 'root/.netrc', content: `machine api.internal login ci password ${t.password}\n` },
      { path: 'etc/apt/auth.conf.d/private.conf', content: `machine apt.internal\nlogin ci\npassword ${t.password}\n` },
      { path: 'srv/deploy/tls-secret.yaml', content: `data:\n  tls.crt: ${certB64}\n  tls.key: ${keyB64}\n` },
      { path: 'srv/app/config.yaml', content: `auth:\n  bearer: ${sa}\n` },
    ]);
    const got = hits.map((h) => `${h.ruleId} ${h.path}:${h.line}`).sort();
    expect(got).toEqual(
      [
        'private-key-base64 root/.kube/config:6',
        'kubeconfig-credentials root/.kube/config:9',
        'netrc-password root/.netrc:1',
        'netrc-password etc/apt/auth.conf.d/private.conf:3',
        'private-key-base64 srv/deploy/tls-secret.yaml:3',
        'jwt srv/app/config.yaml:2',
      ].sort(),
    );
    expect(hits.find((h) => h.ruleId === 'private-key-base64')?.redacted).toBe('base64 of -----BEGIN PRIVATE KEY-----');
    expect(leaks(hits, keyB64.slice(20, 80)) || leaks(hits, sa) || leaks(hits, t.password)).toBe(false);
    // The jwt.io example, unsigned tokens and encoded certificates are not secrets.
    const example =
      'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';
    const unsigned = jwt('none', { sub: 'x', role: 'admin' });
    expect(
      await scanFiles([{ path: 'srv/app/docs.txt', content: `${example}\n${unsigned}\ncert: ${certB64}\n` }]),
    ).toEqual([]);
  });

  it("credential files are read in package trees too; Go's sources, gems' docs and example env files are not noise", async () => {
    const b64url = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const sample = `${b64url({ alg: 'HS256' })}.${b64url({ data: 'test' })}.${random(`${ALNUM}-_`, 43)}`;
    const hits = await scanFiles([
      { path: 'srv/app/node_modules/@acme/config/.env', content: `DATABASE_PASSWORD=${t.password}\n` },
      { path: 'usr/local/go/src/net/url/url.go', content: '// "http://username:p@ssword@google.com"\n' },
      { path: 'usr/local/bundle/gems/jwt-2.7.1/README.md', content: `token = '${sample}'\n` },
      { path: 'srv/app/example.env', content: `POSTGRES_PASSWORD=${t.password}\n` },
      { path: 'srv/app/sample.env', content: `POSTGRES_PASSWORD=${t.password}\n` },
    ]);
    expect(hits.map((h) => `${h.ruleId} ${h.path}`)).toEqual(['dotenv-secret srv/app/node_modules/@acme/config/.env']);
  });

  it('a fake PEM header of many Comment: fields on one line is refused in linear time', async () => {
    const content = `-----BEGIN RSA PRIVATE KEY-----\n${'Comment: '.repeat(20_000)}!\n`;
    expect(await scanFiles([{ path: 'srv/k.pem', content }])).toEqual([]);
  });

  it('name-based rules give medium-confidence findings; format rules high', async () => {
    const hits = await scanFiles([{ path: 'srv/app/.env', content: `API_TOKEN=${t.password}\nGITHUB=${t.ghp}\n` }]);
    const findings = secretFindings(hits, SECRET_RULES, { image: 'oci:x' });
    expect(findings.map((f) => [f.ruleId, f.confidence])).toEqual([
      ['dotenv-secret', 'medium'],
      ['github-token', 'high'],
    ]);
  });

  it('many secrets in one file: each with its own line', async () => {
    const lines = [t.ghp, 'plain text', t.npm, `AWS=${t.awsKeyId}`, t.google];
    const hits = await scanFiles([{ path: 'srv/all.txt', content: lines.join('\n') }]);
    expect(hits.map((h) => [h.ruleId, h.line])).toEqual([
      ['github-token', 1],
      ['npm-token', 3],
      ['aws-access-key-id', 4],
      ['google-api-key', 5],
    ]);
  });
});
