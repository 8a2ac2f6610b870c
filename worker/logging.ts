// What the worker prints: one JSON line per event (pino) on stderr, pretty when stderr is a
// terminal. The engine's own lines (activities and workflows logging through the SDK's context
// loggers) come out from INFO; the SDK's worker and core lines only from WARN, since at INFO they
// report every state change and poll and would drown the engine's lines. Every line about a
// plan's journey carries its planId and workflowId.
import { pino, stdSerializers, stdTimeFunctions, type DestinationStream, type Logger as Pino } from 'pino';
import pretty from 'pino-pretty';
import { SdkComponent, type LogLevel, type LogMetadata, type Logger } from '@temporalio/common';
import { planIdOf } from '../workflows/domain/workflow-id';

const sdkComponents: ReadonlySet<unknown> = new Set([SdkComponent.worker, SdkComponent.core]);

/**
 * The SDK warns when a worker has no workflows to poll for. The mail worker runs activities
 * only by design, so on its task queue that line says nothing but looks like a fault to a
 * newcomer reading `npm start`; any other worker without workflows still warns.
 */
const NO_WORKFLOWS_WARNING = 'No workflows registered, not polling for workflow tasks';
const activityOnlyTaskQueues = new Set<string>();

/** Declares a task queue whose worker runs activities only, on purpose (see above). */
export function expectActivitiesOnly(taskQueue: string): void {
  activityOnlyTaskQueues.add(taskQueue);
}

function isExpectedNoWorkflowsWarning(message: string, meta: LogMetadata | undefined): boolean {
  return message === NO_WORKFLOWS_WARNING && typeof meta?.taskQueue === 'string' && activityOnlyTaskQueues.has(meta.taskQueue);
}

export interface EngineLogOptions {
  /** Where the lines go (default: stderr, through pino-pretty when stderr is a terminal). */
  destination?: DestinationStream;
  /** The lowest level of the engine's own lines that comes out (default INFO). */
  engineLevel?: LogLevel;
}

const pinoLevels = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' } as const satisfies Record<LogLevel, string>;
const rank: Record<LogLevel, number> = { TRACE: 0, DEBUG: 1, INFO: 2, WARN: 3, ERROR: 4 };

/** A pino logger writing one JSON line per event: ISO time, level by name, an `error`'s stack. */
export function createLogger(destination?: DestinationStream): Pino {
  const stream = destination ?? (process.stderr.isTTY ? pretty({ destination: process.stderr, colorize: true, translateTime: 'SYS:HH:MM:ss.l' }) : process.stderr);
  return pino(
    {
      level: 'trace', // each caller filters by its own level (engine lines vs the SDK's)
      base: undefined, // pid and hostname belong to the process supervisor's labels, not each line
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: stdSerializers.err, error: stdSerializers.err },
    },
    stream,
  );
}

let processLog: Pino | undefined;
/** The process's logger: the one the SDK runtime forwards into, for lines outside a workflow or activity (the HTTP server's faults). */
export function processLogger(): Pino {
  return (processLog ??= createLogger());
}

/**
 * The SDK's metadata as a line's fields: the plan id named from the workflow id (every journey
 * is `dunning-<planId>`), the activity's base64 task token left out (long, and useless to a reader).
 */
function fields(meta: LogMetadata | undefined): Record<string, unknown> {
  if (!meta) return {};
  const { taskToken: _taskToken, ...rest } = meta;
  const planId = rest.planId ?? (typeof rest.workflowId === 'string' ? planIdOf(rest.workflowId) : undefined);
  return planId === undefined ? rest : { planId, ...rest };
}

/** The runtime's logger: engine lines from `engineLevel` up, the SDK's own from WARN up, into one pino stream. */
export function engineLogger(opts: EngineLogOptions = {}): Logger {
  const { engineLevel = 'INFO' } = opts;
  const out = opts.destination ? createLogger(opts.destination) : processLogger();
  const log = (level: LogLevel, message: string, meta?: LogMetadata) => {
    if (isExpectedNoWorkflowsWarning(message, meta)) return;
    const lowest = sdkComponents.has(meta?.sdkComponent) ? 'WARN' : engineLevel;
    if (rank[level] < rank[lowest]) return;
    out[pinoLevels[level]](fields(meta), message);
  };
  return {
    log,
    trace: (message, meta) => log('TRACE', message, meta),
    debug: (message, meta) => log('DEBUG', message, meta),
    info: (message, meta) => log('INFO', message, meta),
    warn: (message, meta) => log('WARN', message, meta),
    error: (message, meta) => log('ERROR', message, meta),
  };
}
