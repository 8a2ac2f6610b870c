// The bare workflow's worker as a process of its own, as the scaling section runs the engine's
// `dunning worker`: `node --import tsx bench/bare-worker.ts` with TEMPORAL_ADDRESS, BARE_MAX_CACHED
// (the engine's maxCachedWorkflows) and BARE_POLLERS (default or autoscaling). Runs until SIGINT.
import { NativeConnection } from '@temporalio/worker';
import { createBareWorker } from './bare';

const pollers = process.env.BARE_POLLERS === 'autoscaling' ? 'autoscaling' : 'default';
const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS });
const worker = await createBareWorker(connection, { maxCachedWorkflows: Number(process.env.BARE_MAX_CACHED), pollers }, (line) => console.error(line));
process.once('SIGINT', () => worker.shutdown());
const running = worker.run();
console.log('Bare worker is running.');
await running;
await connection.close();
