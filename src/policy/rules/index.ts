import type { PolicyRule } from '../model.js';
import { baseImageRule } from './base-image.js';
import { baseImageSignatureRule } from './base-image-signature.js';
import { checkSettingsRule } from './check-settings.js';
import { imageAgeRule } from './image-age.js';
import { inventoryRule } from './inventory.js';
import { labelsRule } from './labels.js';
import { misconfigurationsRule } from './misconfigurations.js';
import { registriesRule } from './registries.js';
import { secretsRule } from './secrets.js';
import { vulnerabilitiesRule } from './vulnerabilities.js';
import { vulnerabilityLimitsRule } from './vulnerability-limits.js';

/** Every policy rule. Explicit, so adding one is a visible one-line change (and a test checks ids against files). */
export const POLICY_RULES: readonly PolicyRule[] = [
  vulnerabilitiesRule,
  vulnerabilityLimitsRule,
  misconfigurationsRule,
  secretsRule,
  baseImageRule,
  baseImageSignatureRule,
  registriesRule,
  labelsRule,
  imageAgeRule,
  inventoryRule,
  checkSettingsRule,
];
