// Segmentation rules: which policy a plan initiated without one runs, from what it owes, its
// currency and its account's segment and risk score. The rules are validated data, every
// version kept; the first rule whose conditions all hold wins, and the last one is the default.
import { desc, sql } from 'drizzle-orm';
import { z } from 'zod';
import { currencyDigits } from '../workflows/domain/money';
import type { Database } from './connection';
import { segmentationRules } from './schema';

/** An account's segment: a short label from the billing system, compared exactly. */
export const SEGMENT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$/;
export const segmentRule = 'must be 1 to 64 letters, digits, spaces or - _ . (starting with a letter or digit)';
export const riskScoreRule = 'must be a whole number from 0 to 100';

const minorUnits = z.number().int('must be a whole number of minor units').min(0, 'must be at least 0').max(Number.MAX_SAFE_INTEGER, 'is too large');
const score = z.number().int(riskScoreRule).min(0, riskScoreRule).max(100, riskScoreRule);

/** A half-open range [gte, lt): bands that follow one another share their bound without overlap. */
const range = (bound: z.ZodNumber) =>
  z
    .strictObject({ gte: bound.optional(), lt: bound.optional() })
    .refine((r) => r.gte !== undefined || r.lt !== undefined, { message: 'needs gte, lt or both' })
    .refine((r) => r.gte === undefined || r.lt === undefined || r.gte < r.lt, { message: 'needs gte less than lt' });

const conditions = z.strictObject({
  currency: z
    .array(z.string().refine((c) => /^[A-Z]{3}$/.test(c) && currencyDigits(c) !== undefined, { message: 'must be an ISO 4217 code like USD, in capitals' }))
    .min(1, 'must name at least one currency')
    .optional(),
  owedMinor: range(minorUnits).optional(),
  segment: z.array(z.string().regex(SEGMENT_PATTERN, segmentRule)).min(1, 'must name at least one segment').optional(),
  riskScore: range(score).optional(),
});
export type SegmentConditions = z.infer<typeof conditions>;

const rule = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be lower-case letters, digits, - or _'),
  when: conditions.optional(),
  policy: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be a policy name'),
});
export type SegmentRule = z.infer<typeof rule>;

const hasConditions = (r: SegmentRule) => r.when !== undefined && Object.values(r.when).some((c) => c !== undefined);

export const segmentationRulesSchema = z
  .strictObject({ rules: z.array(rule).min(1, 'must hold at least the default rule').max(500, 'may hold at most 500 rules') })
  .superRefine(({ rules }, ctx) => {
    const seen = new Set<string>();
    rules.forEach((r, i) => {
      if (seen.has(r.name)) ctx.addIssue({ code: 'custom', path: ['rules', i, 'name'], message: `names rule "${r.name}" a second time` });
      seen.add(r.name);
      const last = i === rules.length - 1;
      if (last && hasConditions(r)) {
        ctx.addIssue({ code: 'custom', path: ['rules', i, 'when'], message: 'must be left out: the last rule is the default, which has no conditions' });
      }
      if (!last && !hasConditions(r)) {
        ctx.addIssue({ code: 'custom', path: ['rules', i, 'when'], message: 'is required: only the last rule may be the default, without conditions' });
      }
      // Minor units mean nothing across currencies: 500000 is 5,000 dollars but 500,000 yen.
      if (r.when?.owedMinor && r.when.currency?.length !== 1) {
        ctx.addIssue({ code: 'custom', path: ['rules', i, 'when', 'owedMinor'], message: 'needs a currency condition naming exactly one currency, whose minor units it counts' });
      }
    });
  });
export type SegmentationRules = z.infer<typeof segmentationRulesSchema>;

/** `(a, b, …)` as bound parameters, for `in`. */
const inList = (values: string[]) =>
  sql`(${sql.join(
    values.map((v) => sql`${v}`),
    sql`, `,
  )})`;

export class SegmentationError extends Error {
  override name = 'SegmentationError';
}

/** A zod path as the document writes it: rules[2].when.owedMinor. */
function fieldOf(path: PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}

function plainIssue(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined ? 'is required' : `must be ${/^[aeiou]/.test(issue.expected) ? 'an' : 'a'} ${issue.expected}`;
    case 'unrecognized_keys':
      return `has unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    default:
      return undefined;
  }
}

/** Validates a rules document; throws SegmentationError with one sentence naming the field. */
export function parseSegmentationRules(raw: unknown): SegmentationRules {
  const parsed = segmentationRulesSchema.safeParse(raw, { error: plainIssue });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = fieldOf(issue.path);
    throw new SegmentationError(`Invalid segmentation rules${field ? ` field "${field}"` : ''}: ${issue.message.replace(/\.$/, '')}.`);
  }
  return parsed.data;
}

/** What the rules look at, per plan. */
export interface SegmentFacts {
  owedMinor: number;
  currency: string;
  segment: string | null;
  riskScore: number | null;
}

/** A condition that held, with the plan's value: how a pick is explained. */
export type HeldCondition =
  | { field: 'currency'; value: string; oneOf: string[] }
  | { field: 'segment'; value: string; oneOf: string[] }
  | { field: 'owedMinor' | 'riskScore'; value: number; gte?: number; lt?: number };

export interface RuleMatch {
  /** Index of the rule in the document. */
  index: number;
  rule: string;
  policy: string;
  /** Every condition of the rule, each of which held; empty for the default rule. */
  held: HeldCondition[];
}

const inRange = (v: number, r: { gte?: number; lt?: number }) => (r.gte === undefined || v >= r.gte) && (r.lt === undefined || v < r.lt);

/** The conditions of a rule as they held for these facts, or undefined when one does not. */
function matchRule(r: SegmentRule, f: SegmentFacts): HeldCondition[] | undefined {
  const w = r.when ?? {};
  const held: HeldCondition[] = [];
  if (w.currency) {
    if (!w.currency.includes(f.currency)) return undefined;
    held.push({ field: 'currency', value: f.currency, oneOf: w.currency });
  }
  if (w.owedMinor) {
    if (!inRange(f.owedMinor, w.owedMinor)) return undefined;
    held.push({ field: 'owedMinor', value: f.owedMinor, ...w.owedMinor });
  }
  if (w.segment) {
    // A plan whose account has no segment matches no segment condition.
    if (f.segment === null || !w.segment.includes(f.segment)) return undefined;
    held.push({ field: 'segment', value: f.segment, oneOf: w.segment });
  }
  if (w.riskScore) {
    if (f.riskScore === null || !inRange(f.riskScore, w.riskScore)) return undefined;
    held.push({ field: 'riskScore', value: f.riskScore, ...w.riskScore });
  }
  return held;
}

/** The first rule whose every condition holds; the default (last) rule always does. */
export function matchSegment(rules: SegmentationRules, facts: SegmentFacts): RuleMatch {
  for (const [index, r] of rules.rules.entries()) {
    const held = matchRule(r, facts);
    if (held) return { index, rule: r.name, policy: r.policy, held };
  }
  // Unreachable for a validated document: its last rule has no conditions.
  throw new SegmentationError('The segmentation rules have no default rule.');
}

export interface SegmentationRulesVersion {
  version: number;
  rules: SegmentationRules;
  createdAt: string;
}

/**
 * Writes the rules as a new version. The policies they name must exist (policies are never
 * deleted, so they go on existing); the versions are numbered 1, 2, … under a table lock.
 */
export async function writeSegmentationRules(db: Database, rules: SegmentationRules): Promise<SegmentationRulesVersion> {
  return db.transaction(async (tx) => {
    const names = [...new Set(rules.rules.map((r) => r.policy))];
    const found = await tx.execute<{ name: string }>(sql`select name from dunning_policies where name in ${inList(names)}`);
    const known = new Set(found.map((r) => r.name));
    const missing = rules.rules.findIndex((r) => !known.has(r.policy));
    if (missing >= 0) {
      throw new SegmentationError(
        `Invalid segmentation rules field "rules[${missing}].policy": there is no policy "${rules.rules[missing]!.policy}"; see \`dunning policy list\`.`,
      );
    }
    await tx.execute(sql`lock table segmentation_rules in share row exclusive mode`);
    const [row] = await tx
      .insert(segmentationRules)
      .values({ version: sql`(select coalesce(max(version), 0) + 1 from segmentation_rules)`, definition: rules })
      .returning();
    return { version: row!.version, rules, createdAt: row!.createdAt.toISOString() };
  });
}

/** The rules in force (the newest version), or undefined when none were ever set. */
export async function currentSegmentationRules(db: Pick<Database, 'select'>): Promise<SegmentationRulesVersion | undefined> {
  const [row] = await db.select().from(segmentationRules).orderBy(desc(segmentationRules.version)).limit(1);
  return row ? { version: row.version, rules: parseSegmentationRules(row.definition), createdAt: row.createdAt.toISOString() } : undefined;
}

/** Every version, newest first. */
export async function listSegmentationRules(db: Database): Promise<SegmentationRulesVersion[]> {
  const rows = await db.select().from(segmentationRules).orderBy(desc(segmentationRules.version));
  return rows.map((r) => ({ version: r.version, rules: parseSegmentationRules(r.definition), createdAt: r.createdAt.toISOString() }));
}

/**
 * The facts of many plans in one query: what they owe on open items (as the plan view counts
 * it), their currency and their account's segment and risk score. Unknown ids are left out.
 */
export async function loadSegmentFacts(db: Pick<Database, 'execute'>, planIds: string[]): Promise<Map<string, SegmentFacts>> {
  if (planIds.length === 0) return new Map();
  const rows = await db.execute<{ planId: string; currency: string; segment: string | null; riskScore: number | null; owedMinor: string }>(sql`
    select p.id as "planId", p.currency, a.segment, a.risk_score as "riskScore",
      coalesce((select sum(i.open_minor) from collection_plan_items ci join invoices i on i.id = ci.invoice_id
        where ci.plan_id = p.id and ci.status = 'open' and i.open_minor > 0), 0)::text as "owedMinor"
    from collection_plans p join accounts a on a.id = p.account_id
    where p.id in ${inList(planIds)}`);
  return new Map(rows.map((r) => [r.planId, { owedMinor: Number(r.owedMinor), currency: r.currency, segment: r.segment, riskScore: r.riskScore }]));
}
