// The one rule naming a plan's journey. Pure, with no SDK import, so the status reads (which
// load no Temporal package) name the workflow by the same rule as the client and the tests.

/** Workflow id of a plan's journey: one workflow per plan. */
export function workflowIdFor(planId: string): string {
  return `dunning-${planId}`;
}

/** The plan a journey's workflow id names, if it names one (the inverse of workflowIdFor). */
export function planIdOf(workflowId: string): string | undefined {
  return workflowId.startsWith('dunning-') ? workflowId.slice('dunning-'.length) : undefined;
}
