// Ctrl-C while `dunning start` is still starting (the dev server up, the banner not yet
// printed): the command stops what has started, in order, and returns only once every process
// it started has exited, so a second `npm start` straight after finds its ports free.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { engineSetup, spawnEngine, type EngineProcess } from './engine-process';
import { testDataDir } from './support';

let engine: EngineProcess | undefined;

afterEach(async () => {
  if (engine && engine.members().length > 0) {
    engine.signal('SIGKILL');
    await engine.gone(10_000);
  }
});

/** True when nothing listens on the port any more (the connection is refused). */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

describe('Ctrl-C during start-up', () => {
  it('stops what has started and returns only once the dev server and PostgreSQL have exited', async () => {
    const setup = await engineSetup(testDataDir('start-cancel'));
    const ports = setup.ports!;
    engine = spawnEngine(setup);
    // Printed once the dev server answers; the workflow bundle and the workers are still to come.
    await engine.waitFor('Temporal dev server ready', 180_000);
    const started = engine.members().filter((m) => m.pid !== engine!.child.pid);
    expect(started.map((m) => m.command).join('\n')).toMatch(/temporal server start-dev/);
    expect(started.map((m) => m.command).join('\n')).toMatch(/postgres/);

    engine.signal('SIGINT'); // the whole group, as a terminal's Ctrl-C
    const exit = await engine.exited();
    // Read at once: the moment the shell would give the prompt back.
    const left = engine.members();
    const portsFree = await Promise.all([ports.temporal, ports.ui, ports.postgres].map(refused));

    expect(left).toEqual([]);
    expect(portsFree).toEqual([true, true, true]);
    for (const { pid } of started) expect(() => process.kill(pid, 0), `pid ${pid} still exists`).toThrow();
    expect(engine.output()).toContain('start-up cancelled');
    expect(engine.output()).not.toContain('Dunning engine is running.');
    expect(exit, engine.output()).toBe(130);
  });
});
