import { type IgnoreEntry, readConfigFile } from '../checks/config.js';
import { parseDockerfile } from '../checks/dockerfile.js';
import { ruleById } from '../checks/registry.js';
import type { DockerfileInput } from '../checks/run.js';
import { printable } from '../errors.js';
import { parseInstant } from '../policy/load.js';

/** Dockerfiles are small; the parser refuses larger ones too, this only avoids reading them. */
const MAX_DOCKERFILE_BYTES = 1024 * 1024;

/**
 * Read and parse a Dockerfile (`--dockerfile`, `portcullis lint`). Its inline `# portcullis:ignore` comments become
 * ignore entries for the lines of the instruction they precede; a malformed one is a warning, never a silent ignore.
 */
export function readDockerfile(path: string): DockerfileInput {
  const text = readConfigFile(path, 'Dockerfile', { max: MAX_DOCKERFILE_BYTES + 1, tooLarge: 'DOCKERFILE_INVALID' });
  const parsed = parseDockerfile(text, path);
  for (const p of parsed.problems) process.stderr.write(`portcullis: warning: ${printable(path)}: ${p}\n`);
  for (const ig of parsed.ignores)
    for (const id of ig.ruleIds)
      if (!ruleById(id))
        process.stderr.write(
          `portcullis: warning: ${printable(path)}: line ${ig.line}: '${printable(id, 80)}' is not a rule id (portcullis rules lists them)\n`,
        );
  const reasoned = parsed.ignores.filter((ig) => {
    if (ig.reason) return true;
    // Silencing must say why, as in the ignore file: an inline ignore without a reason is not applied.
    process.stderr.write(
      `portcullis: warning: ${printable(path)}: line ${ig.line}: the ignore has no reason="..." and is not applied\n`,
    );
    return false;
  });
  const ignores: IgnoreEntry[] = reasoned.flatMap((ig) =>
    ig.ruleIds.map((id) => {
      const expiresAt = ig.expires !== undefined ? parseInstant(ig.expires) : undefined;
      return {
        id,
        lines: { path, line: ig.appliesTo.line, endLine: ig.appliesTo.endLine },
        reason: ig.reason as string,
        ...(ig.expires !== undefined ? { expires: ig.expires } : {}),
        // An expiry that is no real date makes the entry expired, never permanent.
        ...(ig.expires !== undefined ? { expiresAt: expiresAt ?? Number.NEGATIVE_INFINITY } : {}),
        source: `${path}:${ig.line}`,
      };
    }),
  );
  return { path, text, steps: parsed.steps, ignores };
}
