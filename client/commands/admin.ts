// Commands ops run on the engine itself: start, check, policy, template preview.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createApiKey, listApiKeys, revokeApiKey } from '../api-keys';
import { listPolicies, setPolicy } from '../policies';
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

const policy: Command = async (argv, out, session) => {
  const [sub, ...rest] = argv;
  const ctx = await session.database();
  if (sub === 'set') {
    const { positionals } = args(rest, {}, ['<file.json>']);
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(positionals[0]!, 'utf8'));
    } catch (err) {
      throw new CliError(`Cannot read ${positionals[0]} as JSON: ${(err as Error).message.replace(/\.$/, '')}.`);
    }
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

export const adminCommands: Record<string, Command> = { start, worker, api, check, policy, template, apikey };
