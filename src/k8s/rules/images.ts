import type { K8sRule } from '../rule.js';

export const IMAGE_RULES: readonly K8sRule[] = [];
