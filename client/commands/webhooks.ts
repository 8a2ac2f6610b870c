// `dunning webhook …`: the endpoints ops send plan events to. Run on the engine's own machine,
// as `dunning apikey` is, so it needs no role: whoever can read the database and the key may.
import { addWebhook, disableWebhook, enableWebhook, listWebhooks, rotateWebhookSecret, type WebhookEndpointWithSecret } from '../webhooks';
import { args, CliError, required, type Command } from './args';
import { table, when } from './output';

const usage = 'Use `dunning webhook add URL --events TYPE,TYPE|all`, `dunning webhook list`, or `dunning webhook disable|enable|rotate ID`.';

/** The secret's one showing, as `apikey create` shows a key. */
function secretShown(endpoint: WebhookEndpointWithSecret, what: string): string {
  return [`${what} Its signing secret is shown only now; store it with the receiver:`, '', `  ${endpoint.secret}`, ''].join('\n');
}

const webhook: Command = async (argv, out, session) => {
  const [sub, ...rest] = argv;
  if (sub === 'add') {
    const { values, positionals } = args(rest, { events: { type: 'string' } }, ['<url>']);
    const ctx = { ...(await session.database()), config: session.config() };
    const added = await addWebhook(ctx, { url: positionals[0]!, events: required(values.events, 'events') });
    out.print(secretShown(added, `Webhook ${added.id} added: ${added.url} takes ${added.events.join(', ')}.`), added);
    return;
  }
  if (sub === 'list') {
    args(rest, {}, []);
    const endpoints = await listWebhooks(await session.database());
    out.print(
      endpoints.length === 0
        ? 'No webhooks; add one with `dunning webhook add URL --events TYPE,TYPE|all`.'
        : table([
            ['ID', 'URL', 'EVENTS', 'STATUS', 'CREATED', 'DISABLED BECAUSE'],
            ...endpoints.map((e) => [e.id, e.url, e.events.length === 0 ? '—' : e.events.join(','), e.status, when(e.createdAt), e.disabledReason ?? '']),
          ]),
      endpoints,
    );
    return;
  }
  if (sub === 'disable' || sub === 'enable') {
    const { positionals } = args(rest, {}, ['<id>']);
    const ctx = await session.database();
    const endpoint = sub === 'disable' ? await disableWebhook(ctx, { id: positionals[0]!, by: '`dunning webhook disable`' }) : await enableWebhook(ctx, { id: positionals[0]! });
    out.print(
      endpoint.status === 'disabled'
        ? `Webhook ${endpoint.id} is disabled; events from now on are not sent to it until \`dunning webhook enable ${endpoint.id}\`.`
        : `Webhook ${endpoint.id} is enabled; events from now on are sent to ${endpoint.url}.`,
      endpoint,
    );
    return;
  }
  if (sub === 'rotate') {
    const { positionals } = args(rest, {}, ['<id>']);
    const ctx = { ...(await session.database()), config: session.config() };
    const rotated = await rotateWebhookSecret(ctx, { id: positionals[0]! });
    out.print(secretShown(rotated, `Webhook ${rotated.id} has a new secret; the previous one also signs until ${when(rotated.previousSecretExpiresAt)}.`), rotated);
    return;
  }
  throw new CliError(usage);
};

export const webhookCommands: Record<string, Command> = { webhook };
