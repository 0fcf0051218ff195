import type { K8sRule } from '../rule.js';

export const NETWORK_RULES: readonly K8sRule[] = [];
