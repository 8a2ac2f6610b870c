// The worker's output as `dunning start` prints it: the engine's own INFO lines (activities log
// through the SDK's activity logger) reach stderr, the SDK's own INFO chatter does not, nor its
// warning that the (activities-only) mail worker polls no workflow tasks.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { initiateDunning } from '../client/dunning';
import { setPolicy } from '../db/policies';
import { installRuntime } from '../worker/worker';
import { createPlan, dateOffset, eventually, secondsPolicy } from './fixtures';
import { startTestStack, type TestStack } from './support';

let stack: TestStack;
let stderr = '';
/** One entry per log line: a timestamp, the level, the message, then its metadata (over lines). */
const entries = () => stderr.split(/\n(?=\d{4}-\d{2}-\d{2}T)/);

beforeAll(async () => {
  const write = process.stderr.write.bind(process.stderr) as (...args: unknown[]) => boolean;
  vi.spyOn(process.stderr, 'write').mockImplementation(((chunk: string | Uint8Array, ...rest: unknown[]) => {
    stderr += chunk.toString();
    return write(chunk, ...rest);
  }) as typeof process.stderr.write);
  // The runtime exactly as the stack installs it; the test stack's own (quieter) call is then a no-op.
  installRuntime();
  stack = await startTestStack('logs');
});
afterAll(async () => {
  await stack?.close();
  vi.restoreAllMocks();
});

describe('the worker log', () => {
  it('prints the engine\'s INFO lines and keeps the SDK\'s INFO lines out', async () => {
    const policy = secondsPolicy(`logs-${randomUUID().slice(0, 6)}`, { upcoming_notice: 0 });
    await setPolicy(stack.db.db, policy);
    const { planId } = await createPlan(stack.db.db, { invoices: [{ amountMinor: 2_500, dueOn: dateOffset(5) }] });
    await initiateDunning({ client: stack.client, db: stack.db.db, config: stack.config }, { planId, policyName: policy.name });

    const sent = await eventually(
      async () => entries().find((e) => e.includes('[INFO] dunning email sent') && e.includes(`planId: '${planId}'`)),
      'the "dunning email sent" line',
    );
    expect(sent).toContain("stepKey: 'upcoming_notice'");
    expect(sent).toContain("sdkComponent: 'activity'");
    // The SDK logs "Worker state changed" at INFO as each worker starts: kept out.
    expect(entries().filter((e) => e.includes('[INFO]') && !e.includes("sdkComponent: 'activity'"))).toEqual([]);
    // The mail worker runs activities only, on purpose: the SDK's WARN about it is kept out too.
    expect(stderr).not.toContain('No workflows registered');
  });
});
