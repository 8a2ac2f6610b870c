// Segmentation as ops manage it and as initiation uses it: rules in, versions out, and the
// policy a plan gets when none is named, with the rule and the conditions that picked it.
import {
  currentSegmentationRules,
  listSegmentationRules as readVersions,
  loadSegmentFacts,
  matchSegment,
  parseSegmentationRules,
  SegmentationError,
  writeSegmentationRules,
  type HeldCondition,
  type SegmentConditions,
  type SegmentationRules,
  type SegmentationRulesVersion,
} from '../db/segmentation';
import { formatMoney } from '../workflows/domain/money';
import type { DatabaseContext } from './context';
import { DunningError } from './errors';

export type { SegmentationRulesVersion } from '../db/segmentation';

/** The policy used when none is named and no segmentation rules were ever set (as before rules existed). */
export const DEFAULT_POLICY = 'standard';

/** How a plan's policy was chosen. */
export type PolicyChoice =
  | { policy: string; by: 'named' }
  | { policy: string; by: 'no_rules' }
  | { policy: string; by: 'rule'; rulesVersion: number; rule: string; held: HeldCondition[] };

function refusal(err: unknown): unknown {
  return err instanceof SegmentationError ? new DunningError(err.message, 'invalid') : err;
}

/** Validates the rules and writes them as a new version; a bad field or an unknown policy is refused naming the field. */
export async function setSegmentationRules({ db }: DatabaseContext, input: { rules: unknown }): Promise<SegmentationRulesVersion> {
  let rules: SegmentationRules;
  try {
    rules = parseSegmentationRules(input.rules);
    return await writeSegmentationRules(db, rules);
  } catch (err) {
    throw refusal(err);
  }
}

/** Every version, newest (the one in force) first. */
export function listSegmentationRules({ db }: DatabaseContext): Promise<SegmentationRulesVersion[]> {
  return readVersions(db);
}

const CHUNK = 1000; // plan ids per facts query (each a bound parameter)

/**
 * The policy each plan would get if initiated now without one: by the rules in force (read
 * once for all of them), or `standard` when no rules were ever set. Unknown plans are left out.
 */
export async function choosePolicies({ db }: DatabaseContext, input: { planIds: string[] }): Promise<Map<string, PolicyChoice>> {
  const current = await currentSegmentationRules(db);
  const choices = new Map<string, PolicyChoice>();
  for (let i = 0; i < input.planIds.length; i += CHUNK) {
    const facts = await loadSegmentFacts(db, input.planIds.slice(i, i + CHUNK));
    for (const [planId, f] of facts) {
      if (!current) {
        choices.set(planId, { policy: DEFAULT_POLICY, by: 'no_rules' });
        continue;
      }
      const m = matchSegment(current.rules, f);
      choices.set(planId, { policy: m.policy, by: 'rule', rulesVersion: current.version, rule: m.rule, held: m.held });
    }
  }
  return choices;
}

/** The policy a plan is initiated (or previewed) under: the one named, else the segmentation rules' pick. */
export async function choosePolicy(ctx: DatabaseContext, input: { planId: string; policyName?: string }): Promise<PolicyChoice | undefined> {
  if (input.policyName !== undefined) return { policy: input.policyName, by: 'named' };
  return (await choosePolicies(ctx, { planIds: [input.planId] })).get(input.planId);
}

/** A condition that held, in words and the plan's money: "owed $6,000.00 is at least $5,000.00". */
export function describeCondition(c: HeldCondition, terms: { currency: string; locale: string }): string {
  const bounds = (show: (n: number) => string, r: { gte?: number; lt?: number }) =>
    [r.gte === undefined ? undefined : `at least ${show(r.gte)}`, r.lt === undefined ? undefined : `under ${show(r.lt)}`].filter(Boolean).join(' and ');
  switch (c.field) {
    case 'currency':
      return `currency ${c.value} is one of ${c.oneOf.join(', ')}`;
    case 'segment':
      return `segment "${c.value}" is one of ${c.oneOf.map((s) => `"${s}"`).join(', ')}`;
    case 'owedMinor': {
      const show = (n: number) => formatMoney(n, terms.currency, terms.locale);
      return `owed ${show(c.value)} is ${bounds(show, c)}`;
    }
    case 'riskScore':
      return `risk score ${c.value} is ${bounds(String, c)}`;
  }
}

/** A rule's conditions as ops read them in a list: "currency USD; owed at least $5,000.00; risk score at least 70". */
export function describeRuleConditions(when: SegmentConditions | undefined): string {
  if (!when) return 'default (always)';
  const bounds = (show: (n: number) => string, r: { gte?: number; lt?: number }) =>
    [r.gte === undefined ? undefined : `at least ${show(r.gte)}`, r.lt === undefined ? undefined : `under ${show(r.lt)}`].filter(Boolean).join(' and ');
  const currency = when.currency?.length === 1 ? when.currency[0]! : undefined;
  return [
    when.currency ? `currency ${when.currency.join(' or ')}` : undefined,
    when.owedMinor ? `owed ${bounds((n) => (currency ? formatMoney(n, currency, 'en-US') : String(n)), when.owedMinor)}` : undefined,
    when.segment ? `segment ${when.segment.map((x) => `"${x}"`).join(' or ')}` : undefined,
    when.riskScore ? `risk score ${bounds(String, when.riskScore)}` : undefined,
  ]
    .filter(Boolean)
    .join('; ');
}

/** Why the plan gets its policy, in one sentence. */
export function explainChoice(choice: PolicyChoice, terms: { currency: string; locale: string }): string {
  switch (choice.by) {
    case 'named':
      return `Policy "${choice.policy}" was named.`;
    case 'no_rules':
      return `No segmentation rules are set, so the "${choice.policy}" policy applies.`;
    case 'rule':
      return choice.held.length === 0
        ? `Segmentation rules version ${choice.rulesVersion}: no rule before the default "${choice.rule}" matched, so "${choice.policy}" applies.`
        : `Segmentation rules version ${choice.rulesVersion}, rule "${choice.rule}" picked "${choice.policy}": ${choice.held.map((c) => describeCondition(c, terms)).join('; ')}.`;
  }
}
