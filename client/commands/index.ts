// Every command by name, and the group module that holds it. A group is loaded only when one of
// its commands runs: `dunning --help` loads no package at all, and `dunning status` not the
// Temporal client (which alone took longer to load than the rest of a command's start).
// test/unit/commands.test.ts checks this table against the groups' own lists.
import type { Command } from './args';

type Group = () => Promise<Record<string, Command>>;

export const commandGroups = {
  admin: async () => (await import('./admin')).adminCommands,
  demo: async () => (await import('./demo')).demoCommands,
  plans: async () => (await import('./plans')).planCommands,
  reads: async () => (await import('./reads')).readCommands,
  reps: async () => (await import('./reps')).repCommands,
  reports: async () => (await import('./reports')).reportCommands,
  webhooks: async () => (await import('./webhooks')).webhookCommands,
} satisfies Record<string, Group>;

export const groupOf: Record<string, keyof typeof commandGroups> = {
  start: 'admin',
  worker: 'admin',
  api: 'admin',
  apikey: 'admin',
  check: 'admin',
  policy: 'admin',
  segments: 'admin',
  template: 'admin',
  import: 'plans',
  initiate: 'plans',
  payment: 'plans',
  cancel: 'plans',
  paylink: 'plans',
  preview: 'reads',
  status: 'reads',
  list: 'reads',
  promise: 'reps',
  escalate: 'reps',
  pause: 'reps',
  resume: 'reps',
  invoice: 'reps',
  task: 'reps',
  consent: 'reps',
  demo: 'demo',
  report: 'reports',
  forecast: 'reports',
  webhook: 'webhooks',
};

/** The command of that name, its group loaded; undefined for a name no group has. */
export async function loadCommand(name: string): Promise<Command | undefined> {
  if (!Object.hasOwn(groupOf, name)) return undefined;
  const commands = await commandGroups[groupOf[name]!]();
  return commands[name];
}
