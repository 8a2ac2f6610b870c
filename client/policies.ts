// Policies as ops manage them: validated JSON in, versions out. Running plans keep the
// snapshot they started with, so a change here never alters a journey already under way.
import { listPolicies as readPolicies, parsePolicy, PolicyError, setPolicy as writePolicy } from '../db/policies';
import type { DunningPolicy } from '../workflows/domain/policy';
import type { DatabaseContext } from './context';
import { DunningError } from './errors';

export interface PolicyVersion {
  name: string;
  version: number;
  policy: DunningPolicy;
}

/** Creates or replaces a policy from its JSON; a bad field is refused naming the field. */
export async function setPolicy({ db }: DatabaseContext, input: { policy: unknown }): Promise<PolicyVersion> {
  let policy: DunningPolicy;
  try {
    policy = parsePolicy(input.policy);
  } catch (err) {
    throw err instanceof PolicyError ? new DunningError(err.message, 'invalid') : err;
  }
  const { version } = await writePolicy(db, policy);
  return { name: policy.name, version, policy };
}

export function listPolicies({ db }: DatabaseContext): Promise<PolicyVersion[]> {
  return readPolicies(db);
}
