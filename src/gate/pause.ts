import { existsSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { GateStep } from './model.js';

/**
 * TEST ONLY: a deterministic kill point. With `PORTCULLIS_GATE_TEST_PAUSE=after-<step>` (a gate step: after-copy,
 * after-sign, ...) and `PORTCULLIS_GATE_TEST_PAUSE_FILE=PATH`, the gate writes PATH when that step is done and waits
 * until PATH is removed. A test waits for the file, then kills the process (or removes the file to let it go on), so
 * crash tests need no timing. Unset, this does nothing. It only ever delays a run; it cannot change what is written.
 */
export async function testPause(step: GateStep, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const at = env.PORTCULLIS_GATE_TEST_PAUSE;
  const file = env.PORTCULLIS_GATE_TEST_PAUSE_FILE;
  if (!at || !file || at !== `after-${step}`) return;
  writeFileSync(file, `${process.pid}\n`);
  while (existsSync(file)) await sleep(20);
}
