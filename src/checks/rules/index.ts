import type { MisconfigRule } from '../model.js';

/**
 * Every misconfiguration rule, one module each in this folder. Explicit, so adding one is a visible one-line change;
 * a test checks that ids are unique, that every file here is listed, and that docs/rules.md documents each one.
 */
export const MISCONFIG_RULES: readonly MisconfigRule[] = [];
