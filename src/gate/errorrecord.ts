import { oneLine, PortcullisError, printable } from '../errors.js';
import { redactReferenceCredentials } from '../oci/reference.js';
import { TOOL } from '../version.js';

/**
 * The record of a run that stopped on an error: no decision was reached and nothing was promoted. `decision` is
 * ERROR, so a reader that checks for PASS fails closed.
 */
export function gateRecordOfError(source: string, err: unknown, now = new Date()): Record<string, unknown> {
  const typed = err instanceof PortcullisError;
  return {
    tool: { name: TOOL.name, version: TOOL.version },
    time: now.toISOString(),
    // Never store credentials someone typed into a reference (the reference parser refuses them too).
    source: printable(redactReferenceCredentials(source), 500),
    decision: 'ERROR',
    promoted: false,
    error: {
      code: typed ? err.code : 'INTERNAL',
      exitCode: typed ? err.exitCode : 3,
      message: printable(oneLine(err), 2000),
    },
  };
}
