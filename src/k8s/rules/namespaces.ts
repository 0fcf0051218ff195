import type { K8sRule } from '../rule.js';

export const NAMESPACE_RULES: readonly K8sRule[] = [];
