import type { K8sRule } from '../rule.js';

export const PLACEMENT_RULES: readonly K8sRule[] = [];
