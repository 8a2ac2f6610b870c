// Replays committed histories of every journey variant against today's workflow code. A change
// that would break plans already running (non-determinism) fails here, in CI, not in production.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, inject, it } from 'vitest';
import proto from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { installRuntime } from '../worker/worker';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'histories');
/** One folder per generation of the workflow's commands (see test/histories/record.ts). */
const generations = readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
const variants = generations.flatMap((g) => readdirSync(path.join(dir, g)).filter((f) => f.endsWith('.json')).map((f) => path.join(g, f)));
const { History } = proto.temporal.api.history.v1;

describe('replay of committed histories', () => {
  it('has a history of every journey variant in every generation', () => {
    expect(generations).toEqual(['1-db-activities', '2-local-db-writes']);
    for (const g of generations) {
      expect(readdirSync(path.join(dir, g)).filter((f) => f.endsWith('.json')).sort(), g).toEqual(
        ['cancelled', 'full-journey', 'paid-early', 'paused-resumed', 'promise-broken', 'promise-kept'].map((v) => `${v}.json`).sort(),
      );
    }
  });

  it('replays every one of them without a determinism error', async () => {
    installRuntime();
    const histories = variants.map((file) => ({
      workflowId: file.replace('.json', ''), // e.g. 1-db-activities/paid-early
      history: History.fromObject(JSON.parse(readFileSync(path.join(dir, file), 'utf8'))),
    }));
    const results: Array<{ workflowId: string; error?: unknown }> = [];
    for await (const result of Worker.runReplayHistories({ workflowBundle: { codePath: inject('workflowBundlePath') } }, histories)) {
      results.push({ workflowId: result.workflowId, error: result.error });
    }
    expect(results.map((r) => r.workflowId).sort()).toEqual(histories.map((h) => h.workflowId).sort());
    for (const r of results) expect(r.error, `${r.workflowId}: ${String(r.error)}`).toBeUndefined();
  });
});
