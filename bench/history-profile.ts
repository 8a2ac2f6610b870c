// Where a journey's time goes, read from its Temporal history: per activity type, how long a
// scheduled activity waited for a worker (queue) and how long its body ran (run); and how
// long workflow tasks waited and ran. Used by bench/run.ts on a sample of plans.
import { readdirSync, readFileSync } from 'node:fs';
import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';

type Timestamp = temporal.api.history.v1.IHistoryEvent['eventTime'];
const ms = (t: Timestamp) => Number(t?.seconds ?? 0) * 1000 + Math.floor((t?.nanos ?? 0) / 1e6);

export interface Timing {
  count: number;
  queueMsMean: number;
  runMsMean: number;
}

export async function profileHistories(client: Client, workflowIds: string[]): Promise<Record<string, Timing>> {
  const sums = new Map<string, { count: number; queue: number; run: number }>();
  const add = (name: string, queue: number, run: number) => {
    const s = sums.get(name) ?? { count: 0, queue: 0, run: 0 };
    sums.set(name, { count: s.count + 1, queue: s.queue + queue, run: s.run + run });
  };
  for (const id of workflowIds) {
    const history = await client.workflow.getHandle(id).fetchHistory();
    const scheduled = new Map<number, { at: number; name: string }>();
    const started = new Map<number, number>();
    /** A task (activity or workflow task) completed: its time queued and its time running. */
    const completed = (scheduledId: number, at: number) => {
      const task = scheduled.get(scheduledId);
      const start = started.get(scheduledId);
      if (task && start !== undefined) add(task.name, start - task.at, at - start);
    };
    for (const e of history.events ?? []) {
      const eventId = Number(e.eventId);
      const at = ms(e.eventTime);
      if (e.activityTaskScheduledEventAttributes) {
        scheduled.set(eventId, { at, name: `activity ${e.activityTaskScheduledEventAttributes.activityType?.name ?? '?'}` });
      } else if (e.workflowTaskScheduledEventAttributes) {
        scheduled.set(eventId, { at, name: 'workflow task' });
      } else if (e.activityTaskStartedEventAttributes ?? e.workflowTaskStartedEventAttributes) {
        started.set(Number((e.activityTaskStartedEventAttributes ?? e.workflowTaskStartedEventAttributes)!.scheduledEventId), at);
      } else if (e.activityTaskCompletedEventAttributes ?? e.workflowTaskCompletedEventAttributes) {
        completed(Number((e.activityTaskCompletedEventAttributes ?? e.workflowTaskCompletedEventAttributes)!.scheduledEventId), at);
      }
    }
  }
  return Object.fromEntries(
    [...sums].map(([name, s]) => [name, { count: s.count, queueMsMean: Math.round(s.queue / s.count), runMsMean: Math.round(s.run / s.count) }]),
  );
}

export function printProfile(title: string, timings: Record<string, Timing>, log: (line: string) => void): void {
  log(`\n${title}\n| where | count | queued ms (mean) | ran ms (mean) |\n|---|---|---|---|`);
  for (const [name, t] of Object.entries(timings)) log(`| ${name} | ${t.count} | ${t.queueMsMean} | ${t.runMsMean} |`);
}

/**
 * CPU seconds used so far by this process and each descendant group (the Temporal server,
 * PostgreSQL), read from /proc; empty where /proc is not there.
 */
export function cpuByProcess(): Record<string, number> {
  const hz = 100; // USER_HZ on Linux
  const out: Record<string, number> = {};
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return out;
  }
  const stats = new Map<number, { ppid: number; comm: string; cpu: number }>();
  for (const pid of entries) {
    try {
      const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const comm = text.slice(text.indexOf('(') + 1, text.lastIndexOf(')'));
      const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
      // fields[1] is ppid; utime, stime are fields 14 and 15 of stat (11, 12 here)
      stats.set(Number(pid), { ppid: Number(fields[1]), comm, cpu: (Number(fields[11]) + Number(fields[12])) / hz });
    } catch {
      // the process ended while we looked
    }
  }
  const isOurs = (pid: number): boolean => {
    for (let p = pid, hops = 0; p > 1 && hops < 20; hops++) {
      if (p === process.pid) return true;
      p = stats.get(p)?.ppid ?? 0;
    }
    return false;
  };
  for (const [pid, s] of stats) {
    if (!isOurs(pid)) continue;
    const group = pid === process.pid ? 'bench (client + workers)' : s.comm.startsWith('postgres') ? 'postgres' : s.comm;
    out[group] = +((out[group] ?? 0) + s.cpu).toFixed(2);
  }
  return out;
}

export function cpuDelta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(after).map(([k, v]) => [k, +(v - (before[k] ?? 0)).toFixed(1)]));
}
