// Dunning policies as validated data in the db. The zod schema is the edge check for policy
// JSON from the CLI, the HTTP API and the db; the workflow receives a validated snapshot.
import { asc, eq, sql } from 'drizzle-orm';
import { z } from 'zod';
import { isTemplateName, templateNames } from '../templates';
import { durationMs, parseClock, parseDuration } from '../workflows/domain/duration';
import { standardPolicy, type DunningPolicy } from '../workflows/domain/policy';
import { endActions, isEndAction, stepActions } from '../workflows/domain/statuses';
import type { Database } from './connection';
import { dunningPolicies } from './schema';

/** Ten years: far beyond any dunning calendar, and well inside what a Date can hold. */
const MAX_DURATION_MS = 3650 * 86_400_000;
const duration = z
  .string()
  .refine((s) => parseDuration(s) !== undefined, {
    message: 'must be an ISO-8601 duration of weeks, days, hours, minutes or seconds, like P3D, -P3D or PT5S',
  })
  // An absurd offset would pass the shape and then fail every plan at initiation.
  .refine((s) => parseDuration(s) === undefined || Math.abs(durationMs(s)) <= MAX_DURATION_MS, { message: 'must be at most ten years (P3650D)' });
const minor = z.number().int().min(1).max(1_000_000_000_000);
const lateFee = z
  .object({ fixedMinor: minor.optional(), percent: z.number().gt(0, 'must be more than 0').max(100).optional(), capMinor: minor.optional() })
  .strict()
  .refine((f) => (f.fixedMinor === undefined) !== (f.percent === undefined), { message: 'must have either fixedMinor or percent, not both' })
  .refine((f) => f.fixedMinor === undefined || f.capMinor === undefined || f.fixedMinor <= f.capMinor, {
    message: 'fixedMinor is over capMinor: the fee could never be charged in full',
  });
const clock = z.string().refine((s) => parseClock(s) !== undefined, { message: 'must be a 24-hour time like 08:00' });

export const policySchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be lower-case letters, digits, - or _'),
    steps: z
      .array(
        z
          .object({
            key: z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, 'must be lower-case letters, digits or _'),
            action: z.enum(stepActions),
            template: z.string().optional(),
            at: duration,
            from: z.enum(['due', 'initiated']),
            fee: lateFee.optional(),
          })
          .strict()
          .refine((s) => s.action !== 'email' || (s.template !== undefined && isTemplateName(s.template)), {
            message: `an email step needs a template, one of ${templateNames.join(', ')}`,
            path: ['template'],
          })
          .refine((s) => s.fee === undefined || s.action === 'email', { message: 'only an email step may add a fee (it is shown in that email)', path: ['fee'] }),
      )
      .min(1, 'must have at least one step')
      .refine((steps) => new Set(steps.map((s) => s.key)).size === steps.length, { message: 'step keys must be unique' })
      .refine((steps) => steps.every((s, i) => !isEndAction(s.action) || i === steps.length - 1), {
        message: `an end action (${Object.keys(endActions).join(', ')}) must be the last step: the plan closes with it`,
      }),
    maxPromises: z.number().int().min(0).max(20).default(2),
    promiseGrace: duration.default('P2D'),
    promiseHorizon: duration.default('P60D'),
    sendWindow: z.object({ from: clock, to: clock }).strict().optional(),
    contactCap: z
      .object({
        channel: z.enum(['email']).default('email'),
        max: z.number().int().min(1, 'must be at least 1 (a cap of 0 would never send: remove the email steps instead)').max(1000),
        per: duration.refine((s) => parseDuration(s) === undefined || durationMs(s) > 0, { message: 'must be a positive duration, like P7D' }),
      })
      .strict()
      .optional(),
  })
  .strict();

export class PolicyError extends Error {
  override name = 'PolicyError';
}

/** zod's generic messages in plain words; the schema's own messages are kept. */
function plainIssue(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined ? 'is required' : `must be ${/^[aeiou]/.test(issue.expected) ? 'an' : 'a'} ${issue.expected}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map(String).join(', ')}`;
    case 'too_big':
      return `must be at most ${String(issue.maximum)}`;
    case 'too_small':
      return `must be at least ${String(issue.minimum)}`;
    case 'unrecognized_keys':
      return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    default:
      return undefined;
  }
}

/** Validates policy JSON; throws PolicyError with one sentence naming the field. */
export function parsePolicy(raw: unknown): DunningPolicy {
  const parsed = policySchema.safeParse(raw, { error: plainIssue });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.map(String).join('.');
    throw new PolicyError(`Invalid policy${field ? ` field "${field}"` : ''}: ${issue.message}.`);
  }
  return parsed.data;
}

/** Creates or replaces a policy; running plans keep the snapshot they started with. */
export async function setPolicy(db: Database, policy: DunningPolicy): Promise<{ version: number }> {
  const [row] = await db
    .insert(dunningPolicies)
    .values({ name: policy.name, definition: policy, version: 1 })
    .onConflictDoUpdate({
      target: dunningPolicies.name,
      set: { definition: policy, version: sql`${dunningPolicies.version} + 1`, updatedAt: new Date() },
    })
    .returning({ version: dunningPolicies.version });
  return { version: row!.version };
}

export async function getPolicy(db: Database, name: string): Promise<DunningPolicy | undefined> {
  return (await getPolicyVersion(db, name))?.policy;
}

/** The policy with its current version, read together: the version a plan initiated now runs. */
export async function getPolicyVersion(db: Database, name: string): Promise<{ policy: DunningPolicy; version: number } | undefined> {
  const [row] = await db.select().from(dunningPolicies).where(eq(dunningPolicies.name, name));
  return row ? { policy: parsePolicy(row.definition), version: row.version } : undefined;
}

export async function listPolicies(db: Database): Promise<Array<{ name: string; version: number; policy: DunningPolicy }>> {
  const rows = await db.select().from(dunningPolicies).orderBy(asc(dunningPolicies.name));
  return rows.map((r) => ({ name: r.name, version: r.version, policy: parsePolicy(r.definition) }));
}

/** The `standard` policy exists on every fresh database; an edited one is left alone. */
export async function seedStandardPolicy(db: Database): Promise<void> {
  await db.insert(dunningPolicies).values({ name: standardPolicy.name, definition: standardPolicy, version: 1 }).onConflictDoNothing();
}
