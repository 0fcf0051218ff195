import type { K8sRule } from '../rule.js';

export const PSS_RULES: readonly K8sRule[] = [];
