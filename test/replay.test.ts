// Replays committed histories of every journey variant against today's workflow code. A change
// that would break plans already running (non-determinism) fails here, in CI, not in production.
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, inject, it } from 'vitest';
import proto from '@temporalio/proto';
import { bundleWorkflowCode, Worker, type WorkflowBundleOption } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { installRuntime } from '../worker/worker';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'histories');
/** One folder per generation of the workflow's commands (see test/histories/record.ts). */
const generations = readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
const variants = generations.flatMap((g) => readdirSync(path.join(dir, g)).filter((f) => f.endsWith('.json')).map((f) => path.join(g, f)));
const { History } = proto.temporal.api.history.v1;
const root = path.join(dir, '..', '..');

/** Every committed history, named by generation and variant (e.g. 1-db-activities/paid-early). */
const committedHistories = () =>
  variants.map((file) => ({
    workflowId: file.replace('.json', ''),
    history: History.fromObject(JSON.parse(readFileSync(path.join(dir, file), 'utf8'))),
  }));

async function replayAll(workflowBundle: WorkflowBundleOption) {
  const results: Array<{ workflowId: string; error?: unknown }> = [];
  for await (const result of Worker.runReplayHistories({ workflowBundle }, committedHistories())) {
    results.push({ workflowId: result.workflowId, error: result.error });
  }
  return results;
}

/**
 * Bundles a copy of workflows/ with one textual edit. The copy sits inside the repo so its
 * imports resolve as the original's do; it is removed once bundled (lint and tsc never see it).
 */
async function bundleEditedWorkflows(edit: { file: string; anchor: string; replacement: string }): Promise<WorkflowBundleOption> {
  const copy = path.join(root, '.test-results', 'edited-workflows');
  rmSync(copy, { recursive: true, force: true });
  try {
    cpSync(path.join(root, 'workflows'), copy, { recursive: true });
    const file = path.join(copy, edit.file);
    const text = readFileSync(file, 'utf8');
    // An anchor that moved would make the control pass for the wrong reason: say so instead.
    if (!text.includes(edit.anchor)) throw new Error(`The control's anchor is no longer in workflows/${edit.file}: ${JSON.stringify(edit.anchor)}`);
    writeFileSync(file, text.replace(edit.anchor, edit.replacement));
    const { code } = await bundleWorkflowCode({ workflowsPath: path.join(copy, 'index.ts'), logger: { log() {}, trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error } });
    return { code };
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

/** The journeys every generation was recorded with. */
const journeys = ['cancelled', 'full-journey', 'paid-early', 'paused-resumed', 'promise-broken', 'promise-kept'];
/**
 * The variants each generation holds. 'paused-until' was recorded with generation 2 code too:
 * a pause whose end date that code ignores, as a worker not yet upgraded gets from a new client.
 */
const variantsOf: Record<string, string[]> = {
  '1-db-activities': journeys,
  '2-local-db-writes': [...journeys, 'paused-until'],
  // Recorded with today's code: a late fee, steps held by a contact cap, an end action; an invoice held.
  '3-pause-until': [...journeys, 'paused-until', 'policy-actions', 'invoice-held'],
};

describe('replay of committed histories', () => {
  it('has a history of every journey variant in every generation', () => {
    expect(generations).toEqual(Object.keys(variantsOf));
    for (const g of generations) {
      expect(readdirSync(path.join(dir, g)).filter((f) => f.endsWith('.json')).sort(), g).toEqual(variantsOf[g]!.map((v) => `${v}.json`).sort());
    }
  });

  it('replays every one of them without a determinism error', async () => {
    installRuntime();
    const results = await replayAll({ codePath: inject('workflowBundlePath') });
    expect(results.map((r) => r.workflowId).sort()).toEqual(variants.map((f) => f.replace('.json', '')).sort());
    for (const r of results) expect(r.error, `${r.workflowId}: ${String(r.error)}`).toBeUndefined();
  });

  // The control: a replay check that cannot fail proves nothing. One timer more, issued before
  // the plan's first save, must break every committed history of both generations.
  it('fails with a determinism error for workflow code that issues one command more', async () => {
    installRuntime();
    const edited = await bundleEditedWorkflows({
      file: 'dunning.ts',
      anchor: '  ready = true;\n  await sync();\n',
      replacement: "  ready = true;\n  await condition(() => false, '1 second');\n  await sync();\n",
    });
    const results = await replayAll(edited);
    expect(results).toHaveLength(variants.length);
    for (const r of results) expect(r.error, `${r.workflowId} replayed an edited workflow without an error`).toBeInstanceOf(DeterminismViolationError);
  });

  // The 'pause-until' guard is needed: without it, a plan a generation 2 worker kept paused past
  // the end date it ignored resumes on the next message in replay, and issues other commands
  // (generation 3's own history fails too, its patch marker unmatched).
  it("fails for the plan paused under generation 2 when the end date is honoured without patched('pause-until')", async () => {
    installRuntime();
    const edited = await bundleEditedWorkflows({
      file: 'dunning.ts',
      anchor: "work.until !== undefined && patched('pause-until') ? work.until : undefined",
      replacement: 'work.until',
    });
    const failed = (await replayAll(edited)).filter((r) => r.error !== undefined);
    expect(failed.map((r) => r.workflowId).sort()).toEqual(['2-local-db-writes/paused-until', '3-pause-until/paused-until']);
    for (const r of failed) expect(r.error).toBeInstanceOf(DeterminismViolationError);
  });
});
