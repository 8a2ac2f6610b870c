// `dunning webhook …`: the endpoints ops send plan events to. Run on the engine's own machine,
// as `dunning apikey` is, so it needs no role: whoever can read the database and the key may.
import { addWebhook, disableWebhook, enableWebhook, listWebhooks, redeliverWebhookEvents, rotateWebhookSecret, showWebhook, testWebhook, type WebhookEndpointWithSecret } from '../webhooks';
import { args, CliError, required, type Command } from './args';
import { table, when } from './output';

const usage = 'Use `dunning webhook add URL --events TYPE,TYPE|all`, `dunning webhook list`, `dunning webhook show|disable|enable|rotate|test ID`, or `dunning webhook redeliver ID --event EVENT_ID|--since TIME`.';

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
  if (sub === 'show') {
    const { positionals } = args(rest, {}, ['<id>']);
    const e = await showWebhook(await session.database(), { id: positionals[0]! });
    const status = e.status === 'enabled' ? 'enabled' : `disabled: ${e.disabledReason ?? ''}`;
    out.print(
      [
        `Webhook ${e.id}: ${e.url}, ${status}`,
        `Takes ${e.events.length === 0 ? 'no event' : e.events.join(', ')}; ${e.waiting === 0 ? 'nothing waits for it' : `${e.waiting} event${e.waiting === 1 ? ' waits' : 's wait'} for it`}.`,
        '',
        'Timeline',
        table([['AT', 'WHAT', 'SUMMARY'], ...e.timeline.map((t) => [when(t.at), t.kind, t.summary])]),
        '',
        e.attempts.length === 0
          ? 'No delivery attempt yet.'
          : ['Latest attempts', table([['AT', 'EVENT', 'HTTP', 'MS', 'ERROR'], ...e.attempts.map((a) => [when(a.at), a.eventId, a.httpStatus === null ? '—' : String(a.httpStatus), String(a.latencyMs), a.error ?? ''])])].join('\n'),
      ].join('\n'),
      e,
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
  if (sub === 'redeliver') {
    const { values, positionals } = args(rest, { event: { type: 'string' }, since: { type: 'string' } }, ['<id>']);
    const { redelivered } = await redeliverWebhookEvents(await session.database(), { id: positionals[0]!, eventId: values.event, since: values.since });
    out.print(
      redelivered === 0 ? `No event recorded since ${values.since} goes to webhook ${positionals[0]}; nothing to send again.` : `${redelivered} event${redelivered === 1 ? '' : 's'} will be sent to webhook ${positionals[0]} again, each with its own webhook-id.`,
      { redelivered },
    );
    return;
  }
  if (sub === 'test') {
    const { positionals } = args(rest, {}, ['<id>']);
    const ctx = { ...(await session.database()), config: session.config() };
    const result = await testWebhook(ctx, { id: positionals[0]! });
    out.print(
      result.error === null
        ? `Webhook ${positionals[0]} took the test event ${result.eventId}: HTTP ${result.httpStatus} in ${result.latencyMs} ms.`
        : `Webhook ${positionals[0]} did not take the test event ${result.eventId}: ${result.error} (after ${result.latencyMs} ms).`,
      result,
    );
    if (result.error !== null) process.exitCode = 1;
    return;
  }
  throw new CliError(usage);
};

export const webhookCommands: Record<string, Command> = { webhook };
