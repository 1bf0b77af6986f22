import pino from 'pino';
import { currentRequestId } from './request-id';
import { traceLogFields } from './tracing';

export type Logger = pino.Logger;

/** How log lines are written: JSON (one object a line), or pretty for a person at a terminal. */
export type LogFormat = 'json' | 'pretty';

/**
 * LOG_FORMAT (`json`, `pretty`), else pretty when stdout is a terminal outside production, else
 * JSON: `npm start` in a terminal is readable, `npm start | jq`, a container or a test gets JSON.
 */
export function logFormat(env: NodeJS.ProcessEnv = process.env, isTty = Boolean(process.stdout.isTTY)): LogFormat {
  const set = env['LOG_FORMAT']?.trim().toLowerCase();
  if (set === 'json' || set === 'pretty') return set;
  return isTty && env['NODE_ENV'] !== 'production' ? 'pretty' : 'json';
}

let prettyStream: pino.DestinationStream | undefined;

/**
 * One pino-pretty transport for the whole process (a worker thread: the formatting stays off the
 * event loop), shared by every logger: `npm start` has one logger per service.
 */
function prettyDestination(): pino.DestinationStream {
  prettyStream ??= pino.transport({
    target: 'pino-pretty',
    // Colours decided here: the worker's own stdout is no terminal.
    options: { colorize: Boolean(process.stdout.isTTY) && !process.env['NO_COLOR'], singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service,span_id', messageFormat: '{service} | {msg}' },
  }) as pino.DestinationStream;
  return prettyStream;
}

/**
 * Structured logger (pino). Level from LOG_LEVEL (default `info`; `silent` in tests unless set).
 * Every line carries `service`, and inside an operation its `request_id` (request-id.ts) and the
 * active span's `trace_id`/`span_id` (nothing when tracing is off). Format: {@link logFormat}.
 * Secrets never go through here: log ids and outcomes, not payloads.
 */
export function createLogger(service: string, level = process.env['LOG_LEVEL'] ?? (process.env['NODE_ENV'] === 'test' ? 'silent' : 'info')): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['password', '*.password', 'token', '*.token', 'authorization', '*.authorization'], censor: '[redacted]' },
    formatters: { level: (label) => ({ level: label }) },
    mixin: logFields,
  };
  return level !== 'silent' && logFormat() === 'pretty' ? pino(options, prettyDestination()) : pino(options);
}

/** The operation's ids for a log line: request id, trace id, span id (each only when known). */
export function logFields(): { request_id?: string; trace_id?: string; span_id?: string } {
  const requestId = currentRequestId();
  return requestId === undefined ? traceLogFields() : { request_id: requestId, ...traceLogFields() };
}
