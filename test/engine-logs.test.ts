// The worker's output as `dunning start` prints it: one JSON line per event on stderr. The
// engine's own INFO lines (activities log through the SDK's activity logger) come out with the
// plan id and workflow id, the SDK's own INFO chatter does not, nor its warning that the
// (activities-only) mail worker polls no workflow tasks.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { initiateDunning } from '../client/dunning';
import { setPolicy } from '../db/policies';
import { installRuntime } from '../worker/worker';
import { createPlan, dateOffset, eventually, secondsPolicy } from './fixtures';
import { startTestStack, type TestStack } from './support';

let stack: TestStack;
let stderr = '';
interface LogLine {
  level: string;
  time: string;
  msg: string;
  [field: string]: unknown;
}
/** Every JSON line on stderr (other output, such as vitest's, is left out). */
const lines = (): LogLine[] =>
  stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);

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
  it('prints the engine\'s INFO lines as JSON with plan and workflow ids, and keeps the SDK\'s INFO lines out', async () => {
    const policy = secondsPolicy(`logs-${randomUUID().slice(0, 6)}`, { upcoming_notice: 0 });
    await setPolicy(stack.db.db, policy);
    const { planId } = await createPlan(stack.db.db, { invoices: [{ amountMinor: 2_500, dueOn: dateOffset(5) }] });
    await initiateDunning({ client: stack.client, db: stack.db.db, config: stack.config }, { planId, policyName: policy.name });

    const sent = await eventually(
      async () => lines().find((l) => l.msg === 'dunning email sent' && l.planId === planId),
      'the "dunning email sent" line',
    );
    expect(sent).toMatchObject({
      level: 'info',
      planId,
      workflowId: `dunning-${planId}`,
      stepKey: 'upcoming_notice',
      sdkComponent: 'activity',
      activityType: 'sendStepEmail',
    });
    expect(new Date(sent.time).toISOString()).toBe(sent.time);
    expect(sent).not.toHaveProperty('taskToken');
    // Each event is one line of JSON: nothing on stderr between them that is not.
    expect(stderr.split('\n').filter((l) => l.startsWith(' ') || l.startsWith('}'))).toEqual([]);
    // The SDK logs "Worker state changed" at INFO as each worker starts: kept out.
    expect(lines().filter((l) => l.level === 'info' && (l.sdkComponent === 'worker' || l.sdkComponent === 'core'))).toEqual([]);
    // The mail batcher's line per provider request, outside any one activity (no plan of its own).
    expect(lines().find((l) => l.msg === 'mail batch sent')).toMatchObject({ level: 'info', provider: 'outbox', messages: 1, refused: 0 });
    // The mail worker runs activities only, on purpose: the SDK's WARN about it is kept out too.
    expect(stderr).not.toContain('No workflows registered');
  });
});
