// Segmentation rules on the real stack: a bad rules file refused in one sentence on the CLI and
// the HTTP API alike with nothing written; 10,000 plans picked as the table says; a plan
// initiated without a policy runs the picked one and records the rule; preview explains it;
// segment and risk_score arrive through the CSV and the composite create.
//
// The rules are global to the shared database: every rule here but the default matches only
// this run's segments, and the default is `standard`, so other suites' plans get what they got
// before rules existed. Every rules document this file sets is the same one (RULES), so the
// roles matrix putting the rules in force again (with a rule no plan matches) changes no pick.
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { createPlan } from '../client/create-plan';
import { importRows, type ParsedRow } from '../client/import';
import { setPolicy } from '../client/policies';
import { choosePolicies, setSegmentationRules } from '../client/segments';
import { planStatus } from '../client/status';
import { runDunning } from './engine-process';
import { secondsPolicy } from './fixtures';
import { compositePlan, startApiHarness, type ApiHarness } from './http-support';
import { cliEnv } from './support';

let h: ApiHarness;
let env: NodeJS.ProcessEnv;
const run = randomUUID().slice(0, 6);
const ENT = `enterprise-${run}`;
const SMB = `smb-${run}`;
const CONS = `consumer-${run}`;
const OTHER = `other-${run}`;
const policy = { strict: `seg-${run}-strict`, watch: `seg-${run}-watch`, gentle: `seg-${run}-gentle` };

const RULES = {
  rules: [
    { name: 'big-risky-usd', when: { currency: ['USD'], owedMinor: { gte: 500_000 }, segment: [ENT], riskScore: { gte: 70 } }, policy: policy.strict },
    { name: 'big-eur', when: { currency: ['EUR'], owedMinor: { gte: 1_000_000 }, segment: [ENT, SMB] }, policy: policy.strict },
    { name: 'risky', when: { segment: [ENT, SMB, CONS], riskScore: { gte: 80 } }, policy: policy.watch },
    { name: 'small-usd', when: { currency: ['USD'], owedMinor: { lt: 10_000 }, segment: [SMB, CONS] }, policy: policy.gentle },
    { name: 'jpy-consumers', when: { currency: ['JPY'], segment: [CONS], riskScore: { gte: 20, lt: 60 } }, policy: policy.gentle },
    { name: 'default', policy: 'standard' },
  ],
};
const policyOfRule: Record<string, string> = Object.fromEntries(RULES.rules.map((r) => [r.name, r.policy]));
let rulesVersion: number;

beforeAll(async () => {
  h = await startApiHarness('segmentation');
  env = cliEnv(h.stack);
  // Steps an hour away: the journeys started here stay quiet.
  for (const name of Object.values(policy)) await setPolicy(h.ctx, { policy: secondsPolicy(name, { upcoming_notice: 3600, manual_escalation: 7200 }) });
  rulesVersion = (await setSegmentationRules(h.ctx, { rules: RULES })).version;
});
afterAll(async () => {
  await h?.close();
});

const dunning = (...args: string[]) => runDunning(args, env);

function jsonFile(name: string, content: unknown): string {
  const file = path.join(h.stack.config.dataDir, `${name}-${randomUUID().slice(0, 8)}.json`);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

/** Versions holding a rule of this name: a refused document names one no good document has. */
async function versionsNaming(rule: string): Promise<number> {
  const [row] = await h.ctx.db.execute<{ n: number }>(
    sql`select count(*)::int as n from segmentation_rules where definition->'rules' @> ${JSON.stringify([{ name: rule }])}::jsonb`,
  );
  return row!.n;
}

describe('a bad rules file', () => {
  const marker = `bad-${run}`;
  const first = { name: marker, when: { segment: [ENT] }, policy: policy.strict };
  const cases: Array<[string, unknown, string]> = [
    [
      'no default rule',
      { rules: [first, { name: 'last', when: { currency: ['USD'] }, policy: 'standard' }] },
      'Invalid segmentation rules field "rules[1].when": must be left out: the last rule is the default, which has no conditions.',
    ],
    [
      'a default that is not last',
      { rules: [first, { name: 'default', policy: 'standard' }, { name: 'late', when: { segment: [SMB] }, policy: 'standard' }] },
      'Invalid segmentation rules field "rules[1].when": is required: only the last rule may be the default, without conditions.',
    ],
    [
      'an unknown policy',
      { rules: [first, { name: 'default', policy: `no-such-${run}` }] },
      `Invalid segmentation rules field "rules[1].policy": there is no policy "no-such-${run}"; see \`dunning policy list\`.`,
    ],
    [
      'a risk score of the wrong type',
      { rules: [{ ...first, when: { riskScore: { gte: '70' } } }, { name: 'default', policy: 'standard' }] },
      'Invalid segmentation rules field "rules[0].when.riskScore.gte": must be a number.',
    ],
    [
      'an amount without a currency',
      { rules: [{ ...first, when: { owedMinor: { gte: 500_000 }, segment: [ENT] } }, { name: 'default', policy: 'standard' }] },
      'Invalid segmentation rules field "rules[0].when.owedMinor": needs a currency condition naming exactly one currency, whose minor units it counts.',
    ],
    [
      'an amount over two currencies',
      { rules: [{ ...first, when: { currency: ['USD', 'EUR'], owedMinor: { gte: 500_000 } } }, { name: 'default', policy: 'standard' }] },
      'Invalid segmentation rules field "rules[0].when.owedMinor": needs a currency condition naming exactly one currency, whose minor units it counts.',
    ],
    [
      'an unknown condition',
      { rules: [{ ...first, when: { amount: 5 } }, { name: 'default', policy: 'standard' }] },
      'Invalid segmentation rules field "rules[0].when": has unknown field "amount".',
    ],
    ['no rules at all', { rules: [] }, 'Invalid segmentation rules field "rules": must hold at least the default rule.'],
  ];

  it.each(cases)('is refused (%s) in one sentence on the CLI and the HTTP API, nothing written', async (_what, doc, sentence) => {
    const cli = await dunning('segments', 'set', jsonFile('bad-rules', doc));
    expect({ code: cli.code, stderr: cli.stderr, stdout: cli.stdout }).toEqual({ code: 1, stderr: `${sentence}\n`, stdout: '' });
    const answer = await h.call('PUT', '/v1/segments', { as: 'ops', body: doc });
    expect(answer.status).toBe(422);
    expect(answer.body).toMatchObject({ code: 'invalid', detail: sentence });
    expect(await versionsNaming(marker)).toBe(0);
  });

  it('is refused when it is not JSON', async () => {
    const file = jsonFile('not-json', '{ "rules": [');
    const cli = await dunning('segments', 'set', file);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toMatch(new RegExp(`^Cannot read ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} as JSON: .+\\.\\n$`));
  });
});

describe('setting and listing', () => {
  it('keeps every version, the newest in force, on both doors', async () => {
    const cli = await dunning('segments', 'set', jsonFile('rules', RULES), '--json');
    expect(cli.code).toBe(0);
    const set = JSON.parse(cli.stdout) as { version: number };
    expect(set.version).toBeGreaterThan(rulesVersion);
    const put = await h.call('PUT', '/v1/segments', { as: 'ops', body: RULES });
    expect(put.status).toBe(200);
    expect(put.body.version).toBeGreaterThan(set.version);
    expect(put.body.rules).toEqual(RULES);

    const listed = await h.call('GET', '/v1/segments', { as: 'ops' });
    const versions = (listed.body.data as Array<{ version: number }>).map((v) => v.version);
    expect(versions).toEqual([...versions].sort((a, b) => b - a));
    for (const v of [rulesVersion, set.version, put.body.version]) expect(versions).toContain(v);

    const text = await dunning('segments', 'list');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^Segmentation rules version \d+ \(in force\)/);
    expect(text.stdout).toContain(`big-risky-usd  currency USD; owed at least $5,000.00; segment "${ENT}"; risk score at least 70  ${policy.strict}`);
    expect(text.stdout).toContain('default        default (always)');
  });
});

interface Seed {
  accountId: string;
  currency: 'USD' | 'EUR' | 'JPY';
  owedMinor: number;
  segment: string | null;
  risk: number | null;
}

/**
 * The table's answer, written out by hand from RULES and independent of the engine's matcher:
 * the first row whose every condition holds.
 */
function expectedRule(p: Seed): string {
  const risk = p.risk ?? -1; // no score meets no score condition
  if (p.currency === 'USD' && p.owedMinor >= 500_000 && p.segment === ENT && p.risk !== null && risk >= 70) return 'big-risky-usd';
  if (p.currency === 'EUR' && p.owedMinor >= 1_000_000 && (p.segment === ENT || p.segment === SMB)) return 'big-eur';
  if ((p.segment === ENT || p.segment === SMB || p.segment === CONS) && p.risk !== null && risk >= 80) return 'risky';
  if (p.currency === 'USD' && p.owedMinor < 10_000 && (p.segment === SMB || p.segment === CONS)) return 'small-usd';
  if (p.currency === 'JPY' && p.segment === CONS && p.risk !== null && risk >= 20 && risk < 60) return 'jpy-consumers';
  return 'default';
}

describe('segmentation over 10,000 plans', () => {
  it('picks each policy as the rules say', async () => {
    // A fixed-seed generator: the same 10,000 plans every run, boundaries included on purpose.
    let state = 20_261_201;
    const next = (n: number) => {
      state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
      return (state >>> 8) % n;
    };
    const pick = <T>(list: readonly T[]) => list[next(list.length)]!;
    const amountEdges = [1, 9_999, 10_000, 499_999, 500_000, 999_999, 1_000_000];
    const riskEdges = [0, 19, 20, 59, 60, 69, 70, 79, 80, 100];
    const seeds: Seed[] = Array.from({ length: 10_000 }, (_, i) => ({
      accountId: `SEGT-${run}-${i}`,
      currency: pick(['USD', 'EUR', 'JPY'] as const),
      owedMinor: next(10) < 3 ? pick(amountEdges) : 1 + next(2_000_000),
      segment: pick([ENT, SMB, CONS, OTHER, null]),
      risk: next(100) < 15 ? null : next(10) < 3 ? pick(riskEdges) : next(101),
    }));
    const rows: ParsedRow[] = seeds.map((s, i) => ({
      line: i + 2,
      accountId: s.accountId,
      accountName: `Table ${i}`,
      contactName: 'Pat Payer',
      contactEmail: `pat+${i}@segment.test`,
      timezone: 'Europe/Berlin',
      currency: s.currency,
      invoiceNumber: `T-${i}`,
      amountMinor: s.owedMinor,
      issuedOn: '2026-10-01',
      dueOn: '2026-11-01',
      segment: s.segment ?? undefined,
      riskScore: s.risk ?? undefined,
    }));
    const started = Date.now();
    const imported = await importRows(h.ctx.db, rows);
    const seeded = Date.now();
    expect(imported.plans).toHaveLength(10_000);
    try {
      const planOf = new Map(imported.plans.map((p) => [p.accountId, p.planId]));
      const choices = await choosePolicies(h.ctx, { planIds: seeds.map((s) => planOf.get(s.accountId)!) });
      const picked = Date.now();
      const wrong: string[] = [];
      const counts: Record<string, number> = {};
      const expectedCounts: Record<string, number> = {};
      for (const s of seeds) {
        const rule = expectedRule(s);
        expectedCounts[rule] = (expectedCounts[rule] ?? 0) + 1;
        const choice = choices.get(planOf.get(s.accountId)!);
        const got = choice?.by === 'rule' ? choice.rule : `(${choice?.by})`;
        counts[got] = (counts[got] ?? 0) + 1;
        if (got !== rule || choice?.policy !== policyOfRule[rule]) wrong.push(`${JSON.stringify(s)}: expected ${rule} (${policyOfRule[rule]}), got ${got} (${choice?.policy})`);
      }
      expect(wrong.slice(0, 5)).toEqual([]);
      expect(counts).toEqual(expectedCounts);
      // Every rule of the table is exercised, the default included.
      for (const r of RULES.rules) expect(expectedCounts[r.name], r.name).toBeGreaterThan(100);
      console.log(`segmentation table: seeded in ${seeded - started} ms, picked in ${picked - seeded} ms: ${JSON.stringify(counts)}`);
    } finally {
      const cleaning = Date.now();
      await h.ctx.db.execute(sql`delete from collection_plans where account_id like ${`SEGT-${run}-%`}`);
      await h.ctx.db.execute(sql`delete from accounts where id like ${`SEGT-${run}-%`}`);
      console.log(`segmentation table: cleaned up in ${Date.now() - cleaning} ms`);
    }
  });
});

describe('initiation without a policy', () => {
  const bigRisky = (acct: string) => {
    const body = compositePlan(acct, [{ number: `${acct}-1`, amountMinor: 600_000 }]);
    return { ...body, account: { ...body.account, segment: ENT, riskScore: 85 } };
  };

  it('starts the journey under the picked policy and records the rule (HTTP)', async () => {
    const acct = `SEG-${run}-http`;
    const { planId } = await createPlan(h.ctx, bigRisky(acct));
    const answer = await h.call('POST', `/v1/plans/${planId}/initiate`, { body: {} });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ policy: policy.strict, alreadyRunning: false, pickedBy: { rule: 'big-risky-usd' } });
    expect(answer.body.pickedBy.rulesVersion).toBeGreaterThanOrEqual(rulesVersion);
    await h.untilBegun(planId);
    const view = await planStatus(h.ctx, { planId });
    expect(view).toMatchObject({ policy: policy.strict, pickedBy: answer.body.pickedBy, segment: ENT, riskScore: 85 });
    // The journey runs the picked policy's snapshot.
    const [snapshot] = await h.ctx.db.execute<{ name: string }>(sql`select policy->>'name' as name from plan_policy_snapshots where plan_id = ${planId}`);
    expect(snapshot?.name).toBe(policy.strict);
    const read = await h.call('GET', `/v1/plans/${planId}`);
    expect(read.body.pickedBy).toEqual(answer.body.pickedBy);
  });

  it('starts it from the composite create with `initiate: {}`, and a named policy wins over the rules', async () => {
    const created = await h.call('POST', '/v1/plans', { body: { ...bigRisky(`SEG-${run}-create`), initiate: {} } });
    expect(created.status).toBe(201);
    expect(created.body.initiated).toMatchObject({ policy: policy.strict, pickedBy: { rule: 'big-risky-usd' } });

    const named = await h.call('POST', '/v1/plans', { body: { ...bigRisky(`SEG-${run}-named`), initiate: { policy: 'standard' } } });
    expect(named.status).toBe(201);
    expect(named.body.initiated.policy).toBe('standard');
    expect(named.body.initiated.pickedBy).toBeUndefined();
    await h.untilBegun(named.body.planId);
    expect((await planStatus(h.ctx, { planId: named.body.planId })).pickedBy).toBeNull();
  });

  it('starts it from the CLI, which says which rule picked the policy', async () => {
    const acct = `SEG-${run}-cli`;
    const body = compositePlan(acct, [{ number: `${acct}-1`, amountMinor: 5_000 }]);
    const { planId } = await createPlan(h.ctx, { ...body, account: { ...body.account, segment: SMB, riskScore: 10 } });
    const cli = await dunning('initiate', planId);
    expect(cli.stderr).toBe('');
    expect(cli.stdout).toMatch(new RegExp(`^Plan ${planId} initiated under policy "${policy.gentle}" \\(segmentation rule "small-usd", rules version \\d+\\): workflow dunning-${planId}\\.`));
    await h.untilBegun(planId);
    const status = await dunning('status', planId);
    expect(status.stdout).toMatch(new RegExp(`policy ${policy.gentle} \\(picked by segmentation rule "small-usd", rules version \\d+\\)`));
  });
});

describe('preview', () => {
  it('says which rule matched and the conditions that held, or that the policy was named', async () => {
    const acct = `SEG-${run}-preview`;
    const body = compositePlan(acct, [{ number: `${acct}-1`, amountMinor: 750_000 }]);
    const { planId } = await createPlan(h.ctx, { ...body, account: { ...body.account, segment: ENT, riskScore: 70 } });
    const answer = await h.call('GET', `/v1/plans/${planId}/preview`);
    expect(answer.status).toBe(200);
    expect(answer.body.policy).toBe(policy.strict);
    expect(answer.body.choice).toMatchObject({
      by: 'rule',
      rule: 'big-risky-usd',
      policy: policy.strict,
      held: [
        { field: 'currency', value: 'USD', oneOf: ['USD'] },
        { field: 'owedMinor', value: 750_000, gte: 500_000 },
        { field: 'segment', value: ENT, oneOf: [ENT] },
        { field: 'riskScore', value: 70, gte: 70 },
      ],
    });
    const sentence = `Segmentation rules version ${answer.body.choice.rulesVersion}, rule "big-risky-usd" picked "${policy.strict}": currency USD is one of USD; owed $7,500.00 is at least $5,000.00; segment "${ENT}" is one of "${ENT}"; risk score 70 is at least 70.`;
    expect(answer.body.reason).toBe(sentence);

    const cli = await dunning('preview', planId);
    expect(cli.stdout.trimEnd().split('\n').at(-1)).toMatch(/^Segmentation rules version \d+, rule "big-risky-usd" picked/);

    const named = await h.call('GET', `/v1/plans/${planId}/preview?policy=standard`);
    expect(named.body).toMatchObject({ policy: 'standard', choice: { by: 'named', policy: 'standard' }, reason: 'Policy "standard" was named.' });

    // An account outside this run's segments falls to the default: `standard`, as before rules.
    const other = await createPlan(h.ctx, compositePlan(`SEG-${run}-plain`));
    const plain = await h.call('GET', `/v1/plans/${other.planId}/preview`);
    expect(plain.body.choice).toMatchObject({ by: 'rule', rule: 'default', policy: 'standard', held: [] });
    expect(plain.body.reason).toMatch(/^Segmentation rules version \d+: no rule before the default "default" matched, so "standard" applies\.$/);
  });
});

describe('segment and risk score as plan input', () => {
  const header = 'account_id,account_name,contact_name,contact_email,timezone,currency,invoice_number,amount,issued_on,due_on,segment,risk_score';
  const line = (acct: string, n: number, segment: string, risk: string) =>
    `${acct},Account ${acct},Pat Payer,pat+${acct.toLowerCase()}@example.com,Europe/Berlin,EUR,${acct}-${n},100.00,2026-10-01,2026-11-01,${segment},${risk}`;
  const account = async (acct: string) =>
    (await h.ctx.db.execute<{ segment: string | null; risk: number | null }>(sql`select segment, risk_score as risk from accounts where id = ${acct}`))[0];

  it('arrive through the CSV import (HTTP and CLI); a row that leaves them blank keeps the account’s', async () => {
    const acct = `SEG-${run}-csv`;
    const imported = await h.call('POST', '/v1/imports', { body: `${header}\n${line(acct, 1, ENT, '42')}\n${line(acct, 2, '', '')}\n`, headers: { 'content-type': 'text/csv' } });
    expect(imported.status).toBe(201);
    expect(await account(acct)).toEqual({ segment: ENT, risk: 42 });

    const file = path.join(h.stack.config.dataDir, `seg-${run}.csv`);
    writeFileSync(file, `${header}\n${line(acct, 3, '', '90')}\n`);
    const cli = await dunning('import', file);
    expect(cli.stderr).toBe('');
    expect(await account(acct)).toEqual({ segment: ENT, risk: 90 });
  });

  const refusals: Array<[string, string, string, string]> = [
    ['a risk score over 100', ENT, '101', 'risk_score must be a whole number from 0 to 100'],
    ['a fractional risk score', ENT, '7.5', 'risk_score must be a whole number from 0 to 100'],
    ['a segment with a slash', 'a/b', '5', 'segment must be 1 to 64 letters, digits, spaces or - _ . (starting with a letter or digit)'],
  ];

  it.each(refusals)('refuse %s in the same words on every door, nothing written', async (_what, segment, risk, rule) => {
    const acct = `SEG-${run}-bad-${randomUUID().slice(0, 4)}`;
    const csvText = `${header}\n${line(acct, 1, segment, risk)}\n`;
    const viaHttp = await h.call('POST', '/v1/imports', { body: csvText, headers: { 'content-type': 'text/csv' } });
    expect(viaHttp.status).toBe(422);
    expect(viaHttp.body.detail).toBe(`Line 2: ${rule}.`);
    const file = path.join(h.stack.config.dataDir, `bad-${acct}.csv`);
    writeFileSync(file, csvText);
    const cli = await dunning('import', file);
    expect({ code: cli.code, stderr: cli.stderr }).toEqual({ code: 1, stderr: `Line 2: ${rule}.\n` });

    const body = compositePlan(acct);
    const field = rule.startsWith('risk_score') ? 'riskScore' : 'segment';
    const value = field === 'riskScore' ? Number(risk) : segment;
    const created = await h.call('POST', '/v1/plans', { body: { ...body, account: { ...body.account, [field]: value } } });
    expect(created.status).toBe(422);
    expect(created.body.detail).toBe(`${rule.replace(/^risk_score/, 'account.riskScore').replace(/^segment/, 'account.segment')}.`);
    expect(await account(acct)).toBeUndefined();
  });

  it('refuses one account given two segments in a file', async () => {
    const acct = `SEG-${run}-two`;
    const answer = await h.call('POST', '/v1/imports', { body: `${header}\n${line(acct, 1, ENT, '')}\n${line(acct, 2, SMB, '')}\n`, headers: { 'content-type': 'text/csv' } });
    expect(answer.status).toBe(422);
    expect(answer.body.detail).toBe(`Line 3: account ${acct} has a different segment than on line 2.`);
    expect(await account(acct)).toBeUndefined();
  });
});
