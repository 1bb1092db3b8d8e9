/** Disruption budgets: selectors, validation, status and eviction decisions. */
export { BudgetValueError, budgetConditionReasons, budgetSelectsPod, computeBudgetStatus, decideEviction, isPodHealthy, scaleBudgetValue } from './budget-math.js';
export { labelKeyProblem, labelValueProblem, selectorMatches, selectorOperators, validateLabelSelector } from './label-selector.js';
export { unhealthyPodEvictionPolicies, validateDisruptionBudget } from './validate-budget.js';
