// What every service verb works with: the Temporal client, the database and the config. A verb
// that only reads the database asks for the database alone, so `dunning status` and the HTTP
// API's reads never need Temporal.
import type { Client } from '@temporalio/client';
import type { Database } from '../db/connection';
import { loadPlanContext, type PlanContext } from '../db/plans';
import { getPolicy } from '../db/policies';
import type { DunningPolicy } from '../workflows/domain/policy';
import type { DunningConfig } from '../worker/config';
import { closedPlanStatuses } from '../workflows/domain/statuses';
import { DunningError } from './errors';

export interface DunningContext {
  client: Client;
  db: Database;
  config: DunningConfig;
}

export type DatabaseContext = Pick<DunningContext, 'db'>;

/** The plan, or the unknown_plan refusal every verb gives for an id the db does not know. */
export async function requirePlan(db: Pick<Database, 'execute'>, planId: string): Promise<PlanContext> {
  const plan = await loadPlanContext(db, planId);
  if (!plan) throw new DunningError(`Unknown plan "${planId}".`, 'unknown_plan');
  return plan;
}

export function refuseIfClosed(plan: Pick<PlanContext, 'planId' | 'status'>): void {
  if (closedPlanStatuses.includes(plan.status)) throw new DunningError(`Plan "${plan.planId}" is already ${plan.status}.`, 'plan_closed');
}

export function unknownPolicy(name: string): DunningError {
  return new DunningError(`Unknown policy "${name}"; see \`dunning policy list\`.`, 'unknown_policy');
}

/** The policy by name (default `standard`), or the unknown_policy refusal. */
export async function requirePolicy(db: Database, name = 'standard'): Promise<DunningPolicy> {
  const policy = await getPolicy(db, name);
  if (!policy) throw unknownPolicy(name);
  return policy;
}
