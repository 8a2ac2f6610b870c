// The processes the local stack spawns (the Temporal dev server, PostgreSQL, a Go build of the
// Temporal CLI), so that "stop now" (a second Ctrl-C) can still end every one of them before
// the command returns, instead of leaving them running behind the shell's prompt.
import type { ChildProcess } from 'node:child_process';

const running = new Map<ChildProcess, NodeJS.Signals>();

/**
 * Registers a child until it exits. `endWith` ends it at once: SIGKILL, or for PostgreSQL
 * SIGQUIT (its immediate shutdown, which takes its backends along and recovers at next start).
 */
export function ownChild(child: ChildProcess, endWith: NodeJS.Signals = 'SIGKILL'): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  running.set(child, endWith);
  child.once('exit', () => running.delete(child));
}

/** Ends every registered child still running; resolves once all of them have exited. */
export async function endChildrenNow(): Promise<void> {
  await Promise.all(
    [...running].map(([child, signal]) => {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill(signal);
      return exited;
    }),
  );
}
