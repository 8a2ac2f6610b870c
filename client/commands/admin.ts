// Commands ops run on the engine itself: start, check, policy, segments, template preview.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createApiKey, listApiKeys, revokeApiKey } from '../api-keys';
import { listPolicies, setPolicy } from '../policies';
import { describeRuleConditions, listSegmentationRules, setSegmentationRules } from '../segments';
import { checkStack } from '../stack-check';
import { renderTemplatePreview } from '../template-preview';
import { args, CliError, optional, required, type Command } from './args';
import { table, when } from './output';

// Imported lazily: only `start` needs the worker, PostgreSQL and the dev server.
const start: Command = async () => (await import('../start')).runStart('start');
const worker: Command = async (argv) => {
  args(argv, {}, []);
  await (await import('../start')).runStart('worker');
};
const api: Command = async (argv) => {
  args(argv, {}, []);
  await (await import('../start')).runStart('api');
};

const check: Command = async (argv, out, session) => {
  const { values } = args(argv, { sleep: { type: 'string', default: '2s' } }, []);
  const sleep = String(values.sleep);
  if (!/^\d+(ms|s|m)$/.test(sleep)) throw new CliError(`--sleep must look like 500ms, 2s or 1m, not "${sleep}".`);
  const result = await checkStack({ client: await session.temporal(), config: session.config() }, { sleep: sleep as `${number}s` });
  out.print(
    `Stack check completed in ${(result.elapsedMs / 1000).toFixed(1)} s: ${result.migrationsApplied} migration(s) applied, database time ${result.databaseTime}.`,
    result,
  );
};

/** A JSON file a `set` command reads, or the one sentence why it cannot be read. */
function readJsonFile(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CliError(`Cannot read ${file} as JSON: ${(err as Error).message.replace(/\.$/, '')}.`);
  }
}

const policy: Command = async (argv, out, session) => {
  const [sub, ...rest] = argv;
  const ctx = await session.database();
  if (sub === 'set') {
    const { positionals } = args(rest, {}, ['<file.json>']);
    const raw = readJsonFile(positionals[0]!);
    const saved = await setPolicy(ctx, { policy: raw });
    out.print(`Policy "${saved.name}" saved (version ${saved.version}); running plans keep the policy they started with.`, saved);
    return;
  }
  if (sub === 'list') {
    args(rest, {}, []);
    const policies = await listPolicies(ctx);
    out.print(
      table([
        ['NAME', 'VERSION', 'STEPS', 'MAX PROMISES', 'SEND WINDOW'],
        ...policies.map((p) => [
          p.name,
          String(p.version),
          p.policy.steps.map((s) => `${s.key}@${s.from}${s.at.startsWith('-') ? '' : '+'}${s.at}`).join(', '),
          String(p.policy.maxPromises),
          p.policy.sendWindow ? `${p.policy.sendWindow.from}-${p.policy.sendWindow.to}` : 'any time',
        ]),
      ]),
      policies,
    );
    return;
  }
  throw new CliError('Use `dunning policy set <file.json>` or `dunning policy list`.');
};

const segments: Command = async (argv, out, session) => {
  const [sub, ...rest] = argv;
  if (sub === 'set') {
    const { positionals } = args(rest, {}, ['<file.json>']);
    const raw = readJsonFile(positionals[0]!);
    const saved = await setSegmentationRules(await session.database(), { rules: raw });
    out.print(
      `Segmentation rules version ${saved.version} saved (${saved.rules.rules.length} rule(s)); plans initiated without a policy from now on get theirs by it.`,
      saved,
    );
    return;
  }
  if (sub === 'list') {
    const { values } = args(rest, { all: { type: 'boolean' } }, []);
    const versions = await listSegmentationRules(await session.database());
    const [current] = versions;
    if (!current) {
      out.print('No segmentation rules are set: a plan initiated without a policy runs "standard". Set them with `dunning segments set <file.json>`.', versions);
      return;
    }
    const shown = values.all ? versions : [current];
    out.print(
      shown
        .map((v, i) =>
          [
            `Segmentation rules version ${v.version}${i === 0 ? ' (in force)' : ''}, set ${when(v.createdAt)}:`,
            table([['#', 'RULE', 'WHEN', 'POLICY'], ...v.rules.rules.map((r, k) => [String(k + 1), r.name, describeRuleConditions(r.when), r.policy])]),
          ].join('\n'),
        )
        .join('\n\n') + (values.all || versions.length === 1 ? '' : `\n\n${versions.length - 1} earlier version(s): \`dunning segments list --all\`.`),
      values.all ? versions : versions.slice(0, 1),
    );
    return;
  }
  throw new CliError('Use `dunning segments set <file.json>` or `dunning segments list [--all]`.');
};

const template: Command = async (argv, out, session) => {
  const [sub, ...rest] = argv;
  if (sub !== 'preview') throw new CliError('Use `dunning template preview <template> <planId> [--out FILE]`.');
  const { values, positionals } = args(rest, { out: { type: 'string' } }, ['<template>', '<planId>']);
  const [name, planId] = positionals as [string, string];
  const rendered = await renderTemplatePreview({ ...(await session.database()), config: session.config() }, { template: name, planId });
  const file = path.resolve(optional(values.out) ?? `${name}-${planId}.html`);
  writeFileSync(file, rendered.html);
  out.print(`Wrote ${file} (subject: ${rendered.subject}).`, { file, subject: rendered.subject });
};

const apikey: Command = async (argv, out, session) => {
  const [sub, ...rest] = argv;
  const ctx = await session.database();
  if (sub === 'create') {
    const { values } = args(rest, { role: { type: 'string' }, name: { type: 'string' } }, []);
    const created = await createApiKey(ctx, { role: required(values.role, 'role'), name: required(values.name, 'name') });
    out.print(
      [`API key ${created.id} (${created.role}, "${created.name}") created. It is shown only now; store it safely:`, '', `  ${created.key}`, ''].join('\n'),
      { id: created.id, name: created.name, role: created.role, key: created.key },
    );
    return;
  }
  if (sub === 'list') {
    args(rest, {}, []);
    const keys = await listApiKeys(ctx);
    out.print(
      keys.length === 0
        ? 'No API keys; create one with `dunning apikey create --role billing|rep|ops --name NAME`.'
        : table([['ID', 'NAME', 'ROLE', 'CREATED', 'REVOKED'], ...keys.map((k) => [k.id, k.name, k.role, when(k.createdAt), when(k.revokedAt)])]),
      keys,
    );
    return;
  }
  if (sub === 'revoke') {
    const { positionals } = args(rest, {}, ['<id>']);
    const revoked = await revokeApiKey(ctx, { id: positionals[0]! });
    out.print(`API key ${revoked.id} ("${revoked.name}") is revoked; requests with it are refused from now on.`, revoked);
    return;
  }
  throw new CliError('Use `dunning apikey create --role billing|rep|ops --name NAME`, `dunning apikey list` or `dunning apikey revoke ID`.');
};

export const adminCommands: Record<string, Command> = { start, worker, api, check, policy, segments, template, apikey };
