// What the worker prints. The engine's own lines (activities and workflows logging through the
// SDK's context loggers) come out from INFO; the SDK's worker and core lines only from WARN,
// since at INFO they report every state change and poll and would drown the engine's lines.
import { SdkComponent, type LogLevel, type LogMetadata, type Logger } from '@temporalio/common';
import { DefaultLogger, type LogEntry } from '@temporalio/worker';

/** Where log entries go; the SDK's default writes one line each to stderr. */
export type LogWriter = (entry: LogEntry) => void;

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
  write?: LogWriter;
  /** The lowest level of the engine's own lines that comes out (default INFO). */
  engineLevel?: LogLevel;
}

/** The runtime's logger: engine lines from `engineLevel` up, the SDK's own from WARN up. */
export function engineLogger(opts: EngineLogOptions = {}): Logger {
  const { write, engineLevel = 'INFO' } = opts;
  const engine = new DefaultLogger(engineLevel, write);
  const sdk = new DefaultLogger('WARN', write);
  const log = (level: LogLevel, message: string, meta?: LogMetadata) => {
    if (isExpectedNoWorkflowsWarning(message, meta)) return;
    (sdkComponents.has(meta?.sdkComponent) ? sdk : engine).log(level, message, meta);
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
