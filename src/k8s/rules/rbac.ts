import type { K8sRule } from '../rule.js';

export const RBAC_RULES: readonly K8sRule[] = [];
