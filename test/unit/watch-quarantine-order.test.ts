import { describe, expect, it } from 'vitest';
import type { Classification, TagVerdict } from '../../src/watch/classify.js';
import { type QuarantineTarget, quarantineDigest } from '../../src/watch/quarantine.js';

/**
 * The fresh verification is the last check before the DELETE: a digest the gate signs and assesses while quarantine
 * looks up what refers to it (the slow step) is refused, never deleted. Oracle: a fake target that logs its calls.
 */

const verdict: TagVerdict = {
  host: 'r',
  repository: 'prod/app',
  tag: 'rc',
  digest: `sha256:${'a'.repeat(64)}`,
  classification: { status: 'unsigned', detail: '' },
};

function target(log: string[], during: 'approvedReference' | 'recheck' | 'never'): QuarantineTarget {
  let approved = false;
  return {
    wasApproved: () => false,
    recheck: async (): Promise<Classification> => {
      log.push('recheck');
      if (during === 'recheck') approved = true;
      return approved ? { status: 'approved', detail: 'signed meanwhile' } : { status: 'unsigned', detail: '' };
    },
    approvedReference: async () => {
      log.push('approvedReference');
      if (during === 'approvedReference') approved = true;
      return undefined;
    },
    deleteManifest: async () => {
      log.push('DELETE');
      return true;
    },
  };
}

describe('quarantine: the last check is right before the delete', () => {
  it('the gate signing during the slow look-up is seen, and nothing is deleted', async () => {
    const log: string[] = [];
    const r = await quarantineDigest(verdict, 'delete', target(log, 'approvedReference'));
    expect(log).toEqual(['approvedReference', 'recheck']);
    expect(r).toEqual({ outcome: 'refused', reason: 'checked again, the digest is approved now: signed meanwhile' });
  });

  it('otherwise: look-up, fresh recheck, then the delete', async () => {
    const log: string[] = [];
    expect(await quarantineDigest(verdict, 'delete', target(log, 'never'))).toEqual({
      outcome: 'deleted',
      reason: 'deleted (unsigned)',
    });
    expect(log).toEqual(['approvedReference', 'recheck', 'DELETE']);
  });

  it('the state approving it during the recheck is seen too', async () => {
    let calls = 0;
    const t: QuarantineTarget = {
      ...target([], 'never'),
      wasApproved: () => calls++ > 0,
      deleteManifest: () => Promise.reject(new Error('must not be called')),
    };
    expect(await quarantineDigest(verdict, 'delete', t)).toEqual({
      outcome: 'refused',
      reason: 'the gate approved this digest here while it was being checked',
    });
  });
});
