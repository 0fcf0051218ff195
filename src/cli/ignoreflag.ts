import { existsSync } from 'node:fs';
import { type IgnoreEntry, parseIgnoreFile, readConfigFile } from '../checks/config.js';

export const DEFAULT_IGNORE_FILE = '.portcullisignore.yaml';

/** `--ignore-file FILE`, or the default file when it exists in the working directory. */
export function loadIgnoreFlag(path: string | undefined): IgnoreEntry[] {
  if (path !== undefined) return parseIgnoreFile(readConfigFile(path, '--ignore-file'), path);
  if (!existsSync(DEFAULT_IGNORE_FILE)) return [];
  return parseIgnoreFile(readConfigFile(DEFAULT_IGNORE_FILE, 'ignore file'), DEFAULT_IGNORE_FILE);
}
