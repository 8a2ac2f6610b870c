// The mail batcher, one per worker process: sendStepEmail hands it a rendered message whose
// ledger row is queued and awaits that message's own outcome; the batcher sends up to
// mail.batchSize messages per provider request, each request in a slot of the provider's rate
// taken from PostgreSQL (so the rate holds across processes). A batch is recorded before its
// request leaves, so a retry re-sends exactly that batch under the same idempotency key and the
// provider answers the first result instead of sending again.
import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import { Runtime } from '@temporalio/worker';
import { and, eq, inArray, isNotNull, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Database, Transaction } from '../db/connection';
import { emailBatches, emailMessages } from '../db/schema';
import { failureTypes } from '../workflows/domain/failures';
import { metricHelp, metricNames, type MailRequestOutcome } from '../workflows/domain/metrics';
import type { ActivityDeps } from './deps';
import type { BatchItemResult, BatchMailer, Mailer, OutgoingEmail, SentEmail } from './mail';
import { sendInSlot } from './mail-rate';

/** A message for the next batch, with the bare address the ledger keeps. */
export interface BatchedEmail {
  email: OutgoingEmail;
  toAddress: string;
}

export interface MailBatcher {
  /** Sends a message whose ledger row is queued and in no batch yet, in the next batch. */
  send(message: BatchedEmail, signal?: AbortSignal): Promise<SentEmail>;
  /** Sends the recorded batch a message belongs to again, as it was, and answers for that message. */
  resend(batchId: string, idempotencyKey: string, signal?: AbortSignal): Promise<SentEmail>;
}

/** New messages go in batches when the provider takes them and mail.batchSize allows more than one. */
export function batchesMail(mailer: Mailer, mail: { batchSize: number }): boolean {
  return mailer.batch !== undefined && mail.batchSize > 1;
}

interface Job {
  batchId: string;
  idempotencyKey: string;
  /** In the order of the request: by idempotency key, the same on every re-send. */
  members: Array<{ key: string; email: OutgoingEmail }>;
}

interface Waiter {
  resolve(sent: SentEmail): void;
  reject(err: unknown): void;
}

/** A payload read back from the ledger (the database is an edge: its jsonb is checked). */
const storedEmail = z.object({
  from: z.string(),
  to: z.string(),
  subject: z.string(),
  html: z.string(),
  text: z.string(),
  idempotencyKey: z.string(),
  headers: z.record(z.string(), z.string()).optional(),
});

/** While the database is away, a batcher tries again after this instead of spinning. */
const pauseAfterFaultMs = 1000;

export function createMailBatcher(deps: Pick<ActivityDeps, 'db' | 'clock' | 'config'>, provider: BatchMailer): MailBatcher {
  const { db } = deps;
  /** Messages not yet in a batch, oldest first, one entry per key. */
  const fresh = new Map<string, BatchedEmail>();
  /** Recorded batches to send again, oldest first, with the keys waiting on each. */
  const resends = new Map<string, Set<string>>();
  const waiters = new Map<string, Set<Waiter>>();
  let pumping = false;

  function wait(key: string, signal: AbortSignal | undefined): Promise<SentEmail> {
    return new Promise<SentEmail>((resolve, reject) => {
      const done = () => {
        signal?.removeEventListener('abort', onAbort);
        const set = waiters.get(key);
        set?.delete(waiter);
        if (set?.size === 0) waiters.delete(key);
      };
      const waiter: Waiter = {
        resolve(sent) {
          done();
          resolve(sent);
        },
        reject(err) {
          done();
          reject(err);
        },
      };
      // An activity cancelled (timed out) before its message was batched takes the message
      // with it; its retry brings it again. Once batched, the batch goes on without it.
      const onAbort = () => {
        if (waiters.get(key)?.size === 1) fresh.delete(key);
        waiter.reject(signal!.reason);
      };
      if (signal?.aborted) return reject(signal.reason);
      signal?.addEventListener('abort', onAbort);
      waiters.set(key, (waiters.get(key) ?? new Set()).add(waiter));
    });
  }

  function settle(key: string, outcome: { sent: SentEmail } | { error: unknown }): void {
    for (const w of [...(waiters.get(key) ?? [])]) {
      if ('sent' in outcome) w.resolve(outcome.sent);
      else w.reject(outcome.error);
    }
  }

  function settleResult(key: string, result: BatchItemResult): void {
    settle(key, 'sent' in result ? result : { error: rejected(result.rejected) });
  }

  function queueResend(batchId: string, key: string): void {
    resends.set(batchId, (resends.get(batchId) ?? new Set()).add(key));
  }

  /** Sends what is waiting, a request per slot, until nothing is; never rejects. */
  async function pump(): Promise<void> {
    if (pumping) return;
    pumping = true;
    try {
      while (fresh.size > 0 || resends.size > 0) await sendNext();
    } finally {
      pumping = false;
    }
  }

  async function sendNext(): Promise<void> {
    const again = resends.entries().next().value;
    if (!again) return sendFresh();
    resends.delete(again[0]);
    return sendAgain(again[0], [...again[1]]);
  }

  const slot = { provider: provider.rateKey, ratePerSecond: deps.config.mail.ratePerSecond };

  /**
   * The next batch of new messages: recorded (committed) just before its slot, so what arrives
   * while it waits rides in it, and before its request leaves, so a retry finds it.
   */
  async function sendFresh(): Promise<void> {
    let exposed: string[] = [];
    let recorded: RecordedBatch | undefined;
    await orFail(
      () => exposed,
      async () => {
        await sendJob(async () => {
          const taken = takeFresh();
          exposed = taken.map((m) => m.email.idempotencyKey);
          recorded = await db.transaction((tx) => recordBatch(tx, taken));
          // Committed: the batch's members hear through its request, the others from where they are.
          exposed = recorded.answeredByLedger;
          for (const [batchId, key] of recorded.inOtherBatches) queueResend(batchId, key);
          return recorded.job;
        });
        await settleFromLedger(recorded?.answeredByLedger ?? []);
      },
    );
  }

  /** A recorded batch, again as it was; one sent meanwhile (here or elsewhere) needs no request. */
  async function sendAgain(batchId: string, keys: string[]): Promise<void> {
    await orFail(
      () => keys,
      async () => {
        const job = (await unsentBatch(db, batchId)) && (await sendJob(() => unsentBatch(db, batchId)));
        if (!job) await settleFromLedger(keys);
      },
    );
  }

  /** A job's request in the provider's next slot; its members hear through dispatch, or of a fault here. */
  async function sendJob(prepare: () => Promise<Job | undefined>): Promise<Job | undefined> {
    let job: Job | undefined;
    let dispatched = false;
    try {
      return await sendInSlot(db, {
        ...slot,
        prepare: async () => (job = await prepare()),
        send: (j) => {
          dispatched = true;
          return dispatch(j);
        },
      });
    } catch (err) {
      // The slot failed (the database): a request that never left fails its members, who retry.
      if (job && !dispatched) for (const m of job.members) settle(m.key, { error: err });
      throw err;
    }
  }

  /** A step of the pump; on a fault the keys' activities fail (and retry) and the pump pauses. */
  async function orFail(keys: () => string[], step: () => Promise<void>): Promise<void> {
    try {
      await step();
    } catch (err) {
      for (const key of keys()) settle(key, { error: err });
      await new Promise((r) => setTimeout(r, pauseAfterFaultMs));
    }
  }

  function takeFresh(): BatchedEmail[] {
    const taken = [...fresh.values()].slice(0, deps.config.mail.batchSize);
    for (const m of taken) fresh.delete(m.email.idempotencyKey);
    return taken;
  }

  /** Outcomes the ledger already holds (sent or refused earlier), for the keys' waiters. */
  async function settleFromLedger(keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    const rows = await db.select().from(emailMessages).where(inArray(emailMessages.idempotencyKey, keys));
    const byKey = new Map(rows.map((r) => [r.idempotencyKey, r]));
    for (const key of keys) {
      const row = byKey.get(key);
      if (row?.status === 'sent') settle(key, { sent: { provider: row.provider, messageId: row.providerMessageId ?? '', emlPath: row.emlPath ?? undefined } });
      else if (row?.status === 'failed') settle(key, { error: rejected(row.error ?? 'The provider refused the message.') });
      else settle(key, { error: new Error(`Message ${key} is neither sent nor refused after its batch was sent.`) });
    }
  }

  /**
   * Sends a job's request, then records what became of each message and tells its waiters.
   * Resolves once the request has left (or failed to); the rest goes on after.
   */
  function dispatch(job: Job): Promise<void> {
    let markLeft!: () => void;
    const left = new Promise<void>((resolve) => (markLeft = resolve));
    /** When the provider's client saw the request leave (what the rate counts), for the log. */
    let leftAt: Date | undefined;
    const onLeft = () => {
      leftAt ??= new Date();
      markLeft();
    };
    void (async () => {
      const started = Date.now();
      let outcome: MailRequestOutcome = 'error';
      try {
        let results: BatchItemResult[];
        try {
          results = await provider.send({ idempotencyKey: job.idempotencyKey, emails: job.members.map((m) => m.email) }, onLeft);
          outcome = 'sent';
        } catch (err) {
          // Refused as a whole for good: every message of it is refused.
          if (!(err instanceof ApplicationFailure && err.nonRetryable)) throw err;
          results = job.members.map(() => ({ rejected: err.message }));
          outcome = 'rejected';
        } finally {
          markLeft();
        }
        await markSent(db, deps.clock.now(), job, results);
        report(job, outcome, started, results.filter((r) => 'rejected' in r).length, leftAt);
        job.members.forEach((m, i) => settleResult(m.key, results[i]!));
      } catch (err) {
        // 429, 5xx, the network, or the ledger: every activity waiting on the batch retries, and
        // each retry re-sends this recorded batch.
        report(job, 'error', started, 0, leftAt, err);
        for (const m of job.members) settle(m.key, { error: err });
      }
    })();
    return left;
  }

  function report(job: Job, outcome: MailRequestOutcome, started: number, refused: number, leftAt: Date | undefined, err?: unknown): void {
    const runtime = Runtime.instance();
    runtime.metricMeter.createCounter(metricNames.mailRequests, undefined, metricHelp.mailRequests).add(1, { provider: provider.provider, outcome });
    runtime.metricMeter
      .createHistogram(metricNames.mailBatchMessages, 'int', undefined, metricHelp.mailBatchMessages)
      .record(job.members.length, { provider: provider.provider });
    const fields = { provider: provider.provider, batchId: job.batchId, messages: job.members.length, refused, ms: Date.now() - started, leftAt: leftAt?.toISOString() };
    if (err === undefined) runtime.logger.info('mail batch sent', fields);
    else runtime.logger.warn('mail batch not sent; its messages will retry', { ...fields, error: err instanceof Error ? err.message : String(err) });
  }

  return {
    send(message, signal) {
      const key = message.email.idempotencyKey;
      const outcome = wait(key, signal);
      if (signal?.aborted) return outcome;
      fresh.set(key, message);
      void pump();
      return outcome;
    },
    resend(batchId, key, signal) {
      const outcome = wait(key, signal);
      if (signal?.aborted) return outcome;
      queueResend(batchId, key);
      void pump();
      return outcome;
    },
  };
}

function rejected(reason: string): ApplicationFailure {
  return ApplicationFailure.create({ type: failureTypes.MailRejected, nonRetryable: true, message: reason });
}

/** The request's Idempotency-Key: the same members always make the same key. */
export function batchIdempotencyKey(memberKeys: string[]): string {
  return createHash('sha256').update([...memberKeys].sort().join('\n')).digest('hex');
}

const byKey = (a: { key: string }, b: { key: string }) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/**
 * Records a batch of the messages whose rows are still queued and in no batch (locked, so no
 * other process batches them meanwhile), with each one's payload. A message batched elsewhere
 * meanwhile waits on that batch; one already sent or refused is answered from the ledger.
 */
interface RecordedBatch {
  job: Job | undefined;
  /** Keys already sent or refused: the ledger answers for them. */
  answeredByLedger: string[];
  /** [batch id, key] of keys another batch carries already. */
  inOtherBatches: Array<[string, string]>;
}

async function recordBatch(tx: Transaction, taken: BatchedEmail[]): Promise<RecordedBatch> {
  const answeredByLedger: string[] = [];
  const inOtherBatches: Array<[string, string]> = [];
  if (taken.length === 0) return { job: undefined, answeredByLedger, inOtherBatches };
  const rows = await tx
    .select({ key: emailMessages.idempotencyKey, status: emailMessages.status, batchId: emailMessages.batchId })
    .from(emailMessages)
    .where(inArray(emailMessages.idempotencyKey, taken.map((m) => m.email.idempotencyKey)))
    .for('update');
  const row = new Map(rows.map((r) => [r.key, r]));
  const eligible: BatchedEmail[] = [];
  for (const m of taken) {
    const r = row.get(m.email.idempotencyKey);
    if (r?.status === 'queued' && r.batchId === null) eligible.push(m);
    else if (r?.status === 'queued' && r.batchId) inOtherBatches.push([r.batchId, r.key]);
    else answeredByLedger.push(m.email.idempotencyKey);
  }
  if (eligible.length === 0) return { job: undefined, answeredByLedger, inOtherBatches };
  const members = eligible.map((m) => ({ key: m.email.idempotencyKey, email: m.email, toAddress: m.toAddress })).sort(byKey);
  const idempotencyKey = batchIdempotencyKey(members.map((m) => m.key));
  const [batch] = await tx.insert(emailBatches).values({ idempotencyKey }).returning({ id: emailBatches.id });
  const values = members.map((m) => sql`(${m.key}, ${JSON.stringify(m.email)}, ${m.toAddress})`);
  // The ledger says what was sent: the address and subject of this render, as a lone send does.
  await tx.execute(sql`
    update email_messages m set batch_id = ${batch!.id}, payload = v.payload::jsonb, to_address = v.to_address, subject = v.payload::jsonb->>'subject'
    from (values ${sql.join(values, sql`, `)}) as v(key, payload, to_address)
    where m.idempotency_key = v.key`);
  const job: Job = { batchId: batch!.id, idempotencyKey, members: members.map(({ key, email }) => ({ key, email })) };
  return { job, answeredByLedger, inOtherBatches };
}

/** A recorded batch exactly as it was first sent (members, payloads, key); undefined once sent. */
async function unsentBatch(db: Database, batchId: string): Promise<Job | undefined> {
  const [batch] = await db.select().from(emailBatches).where(eq(emailBatches.id, batchId));
  if (!batch) throw new Error(`Mail batch ${batchId} is not in the ledger.`);
  if (batch.sentAt) return undefined;
  const rows = await db
    .select({ key: emailMessages.idempotencyKey, payload: emailMessages.payload })
    .from(emailMessages)
    .where(and(eq(emailMessages.batchId, batchId), isNotNull(emailMessages.payload)));
  const members = rows.map((r) => ({ key: r.key, email: storedEmail.parse(r.payload) })).sort(byKey);
  if (members.length === 0) throw new Error(`Mail batch ${batchId} has no messages left to send.`);
  return { batchId, idempotencyKey: batch.idempotencyKey, members };
}

/** What became of each message, and the batch sent, in one statement; payloads are dropped. */
async function markSent(db: Database, now: Date, job: Job, results: BatchItemResult[]): Promise<void> {
  const values = job.members.map((m, i) => {
    const r = results[i]!;
    return 'sent' in r
      ? sql`(${m.key}, 'sent', ${r.sent.provider}, ${r.sent.messageId}, ${r.sent.emlPath ?? null}, ${null})`
      : sql`(${m.key}, 'failed', ${null}, ${null}, ${null}, ${r.rejected})`;
  });
  await db.execute(sql`
    with messages as (
      update email_messages m set status = v.status, provider = coalesce(v.provider, m.provider), provider_message_id = v.message_id,
        eml_path = v.eml_path, error = v.error, sent_at = case when v.status = 'sent' then ${now.toISOString()}::timestamptz end, payload = null
      from (values ${sql.join(values, sql`, `)}) as v(key, status, provider, message_id, eml_path, error)
      where m.idempotency_key = v.key
    )
    update email_batches set sent_at = ${now.toISOString()}::timestamptz where id = ${job.batchId}`);
}
