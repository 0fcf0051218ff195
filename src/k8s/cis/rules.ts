import type { K8sRule } from '../rule.js';

export const CIS_RULES: readonly K8sRule[] = [];
