import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

// Help alone exits 0; help beside other arguments (an image name that happens to be '--help', passed by a script
// without `--`) shows help and exits 2, so it never reads as "verified" or "promoted".
describe('--help', () => {
  it.each([[['--help']], [['verify', '--help']], [['registry', 'watch', '-h']], [['help', 'gate']]])(
    'alone: %j exits 0 with the usage',
    async (args) => {
      const r = await runCli(args);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^Usage: portcullis/m);
    },
  );

  it.each([
    [['verify', '--help', '--key', 'k.pub']],
    [['verify', 'docker://127.0.0.1:1/app:1', '--key', 'k.pub', '--help']],
    [['gate', '--help', '--to', 'prod.example/app', '--policy', 'p.yaml', '--key', 'k.key']],
  ])('with other arguments: %j shows help and exits 2, running nothing', async (args) => {
    const r = await runCli(args);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/^Usage: portcullis/m);
    expect(r.stderr).toContain('--help was given with other arguments: help shown, nothing run');
  });
});
