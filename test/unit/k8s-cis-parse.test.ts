import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseFlags, type Token } from '../../src/k8s/cis/flags.js';
import { readInRoot, resolveInRoot } from '../../src/k8s/cis/fsroot.js';
import { syntaxOf } from '../../src/k8s/cis/node.js';
import { kubeletCommand, parseEnvFile, splitWords } from '../../src/k8s/cis/systemd.js';

const words = (...w: string[]): Token[] => w.map((text) => ({ text }));
const pflag = syntaxOf('kube-apiserver');
const goflag = syntaxOf('etcd');

describe('flag parser', () => {
  it('reads --flag=value and --flag value, and a bare boolean as true', () => {
    const f = parseFlags(words('--secure-port', '6443', '--tls-cert-file=/a.crt', '--anonymous-auth'), pflag);
    expect(f.uses.map((u) => [u.name, u.value])).toEqual([
      ['secure-port', '6443'],
      ['tls-cert-file', '/a.crt'],
      ['anonymous-auth', 'true'],
    ]);
  });

  it('never gives a pflag boolean the next word: `--profiling false` is profiling=true', () => {
    const f = parseFlags(words('--profiling', 'false', '--audit-log-path', '/var/log/a.log'), pflag);
    expect(f.last('profiling')?.value).toBe('true');
    expect(f.last('audit-log-path')?.value).toBe('/var/log/a.log');
  });

  it('keeps the last value of a repeated scalar flag, appends repeated lists and merges maps', () => {
    const f = parseFlags(
      words(
        '--profiling=true',
        '--profiling=false',
        '--enable-admission-plugins=NodeRestriction, EventRateLimit',
        '--enable-admission-plugins=AlwaysAdmit',
        '--feature-gates=A=true,RotateKubeletServerCertificate=true',
        '--feature-gates=RotateKubeletServerCertificate=false',
      ),
      pflag,
    );
    expect(f.last('profiling')?.value).toBe('false');
    expect(f.list('enable-admission-plugins').map((x) => x.item)).toEqual([
      'NodeRestriction',
      'EventRateLimit',
      'AlwaysAdmit',
    ]);
    const gates = f.map('feature-gates');
    expect(gates.get('A')?.value).toBe('true');
    expect(gates.get('RotateKubeletServerCertificate')?.value).toBe('false');
  });

  it('reads pflag past positional words and stops at --; ignores single-dash shorthands', () => {
    const f = parseFlags(words('stray', '-v=2', '--a=1', '--', '--b=2'), pflag);
    expect(f.uses.map((u) => u.name)).toEqual(['a']);
  });

  it("reads Go's flag syntax for etcd: one dash, and a stop at the first positional word", () => {
    const f = parseFlags(words('-cert-file=/c', '--client-cert-auth', 'positional', '--key-file=/k'), goflag);
    expect(f.last('cert-file')?.value).toBe('/c');
    expect(f.last('client-cert-auth')?.value).toBe('true');
    expect(f.has('key-file')).toBe(false);
  });

  it('keeps where each flag came from', () => {
    const f = parseFlags(
      [
        { text: '--x', at: { path: 'p', line: 7 } },
        { text: 'v', at: { path: 'p', line: 8 } },
      ],
      pflag,
    );
    expect(f.last('x')).toEqual({ name: 'x', value: 'v', at: { path: 'p', line: 7 } });
  });

  const flagName = fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/);
  const value = fc.stringMatching(/^[A-Za-z0-9/._:,=]{0,20}$/);

  it('round-trips any flag list written in either form (fuzz)', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ name: flagName, value, eq: fc.boolean() }), { maxLength: 20 }), (flags) => {
        const toks: string[] = [];
        for (const f of flags) {
          // The space form only where pflag would read it back the same way (non-boolean, a non-empty value).
          if (f.eq || pflag.booleans.has(f.name) || f.value === '') toks.push(`--${f.name}=${f.value}`);
          else toks.push(`--${f.name}`, f.value);
        }
        const parsed = parseFlags(words(...toks), pflag);
        expect(parsed.uses.map((u) => [u.name, u.value])).toEqual(flags.map((f) => [f.name, f.value]));
      }),
      { numRuns: 500 },
    );
  });

  it('never throws and yields well-formed names on arbitrary words (fuzz)', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 30 }), { maxLength: 40 }), fc.boolean(), (ws, go) => {
        const f = parseFlags(words(...ws), go ? goflag : pflag);
        expect(f.uses.length).toBeLessThanOrEqual(ws.length);
        for (const u of f.uses) {
          expect(u.name.length).toBeGreaterThan(0);
          expect(u.name.includes('=')).toBe(false);
          expect(u.name.startsWith('-')).toBe(false);
        }
        f.list('a');
        f.map('feature-gates');
      }),
      { numRuns: 1000 },
    );
  });
});

describe('kubelet unit', () => {
  const DROPIN = [
    '[Service]',
    'Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"',
    'Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"',
    'EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env',
    'EnvironmentFile=-/etc/default/kubelet',
    'ExecStart=',
    'ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS',
  ].join('\n');

  it('expands Environment= and EnvironmentFile= into the last ExecStart, each word with its line', () => {
    const envs: Record<string, string> = {
      '/var/lib/kubelet/kubeadm-flags.env':
        'KUBELET_KUBEADM_ARGS="--container-runtime-endpoint=unix:///run/containerd/containerd.sock"\n',
      '/etc/default/kubelet': '# extra\nKUBELET_EXTRA_ARGS=--anonymous-auth=true --read-only-port 10255\n',
    };
    const cmd = kubeletCommand(
      [
        { shown: 'unit', text: '[Unit]\nDescription=kubelet\n[Service]\nExecStart=/usr/bin/kubelet\n' },
        { shown: 'dropin', text: DROPIN },
      ],
      (p) => (envs[p] === undefined ? undefined : parseEnvFile(envs[p] as string, p)),
    );
    expect(cmd.program).toBe('/usr/bin/kubelet');
    expect(cmd.at).toEqual({ path: 'dropin', line: 7 });
    expect(cmd.args.map((t) => [t.text, t.at?.path, t.at?.line])).toEqual([
      ['--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf', 'dropin', 2],
      ['--kubeconfig=/etc/kubernetes/kubelet.conf', 'dropin', 2],
      ['--config=/var/lib/kubelet/config.yaml', 'dropin', 3],
      ['--container-runtime-endpoint=unix:///run/containerd/containerd.sock', '/var/lib/kubelet/kubeadm-flags.env', 1],
      ['--anonymous-auth=true', '/etc/default/kubelet', 2],
      ['--read-only-port', '/etc/default/kubelet', 2],
      ['10255', '/etc/default/kubelet', 2],
    ]);
  });

  it('splits words as systemd does and never throws (fuzz)', () => {
    expect(splitWords(`a "b c" 'd e' f\\ g`)).toEqual(['a', 'b c', 'd e', 'f g']);
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        splitWords(s);
        parseEnvFile(s, 'x');
        kubeletCommand([{ shown: 'u', text: `[Service]\n${s}` }], () => undefined);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('node root', () => {
  const root = mkdtempSync(join(tmpdir(), 'pc-cis-root-'));
  mkdirSync(join(root, 'etc/kubernetes'), { recursive: true });
  mkdirSync(join(root, 'data'), { recursive: true });
  writeFileSync(join(root, 'data/admin.conf'), 'x');
  symlinkSync('/data/admin.conf', join(root, 'etc/kubernetes/admin.conf'));
  symlinkSync('../../../../../etc/passwd', join(root, 'etc/kubernetes/escape.conf'));
  symlinkSync('loop2', join(root, 'etc/kubernetes/loop1'));
  symlinkSync('loop1', join(root, 'etc/kubernetes/loop2'));
  writeFileSync(join(root, 'etc/kubernetes/big.yaml'), Buffer.alloc(1024 * 1024 + 1, 0x61));

  it('reads an absolute link as the node would: from the node root', () => {
    const r = readInRoot(root, '/etc/kubernetes/admin.conf');
    expect(r).toMatchObject({ ok: true, text: 'x' });
  });

  it('refuses a link that climbs out of the root, and link loops', () => {
    const r = resolveInRoot(root, '/etc/kubernetes/escape.conf');
    expect(r).toMatchObject({ ok: false, missing: false });
    expect(!r.ok && !r.missing && r.problem).toMatch(/leaves the node root/);
    expect(resolveInRoot(root, '/etc/kubernetes/loop1')).toMatchObject({ ok: false, missing: false });
    expect(resolveInRoot(root, '/../etc/passwd')).toMatchObject({ ok: false, missing: false });
  });

  it('refuses a file over the bound unread', () => {
    const r = readInRoot(root, '/etc/kubernetes/big.yaml', 1024 * 1024);
    expect(r).toMatchObject({ ok: false, missing: false });
    expect(!r.ok && r.problem).toMatch(/larger than 1 MiB/);
  });

  it('says missing for a path that is not there', () => {
    expect(resolveInRoot(root, '/etc/nothing/here')).toEqual({ ok: false, missing: true });
  });
});
