import pino from 'pino';
import { traceLogFields } from './tracing';

export type Logger = pino.Logger;

/**
 * Structured JSON logger (pino). Level from LOG_LEVEL (default `info`; `silent` in tests unless set).
 * Secrets never go through here: log ids and outcomes, not payloads.
 */
export function createLogger(service: string, level = process.env['LOG_LEVEL'] ?? (process.env['NODE_ENV'] === 'test' ? 'silent' : 'info')): Logger {
  return pino({
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['password', '*.password', 'token', '*.token', 'authorization', '*.authorization'], censor: '[redacted]' },
    formatters: { level: (label) => ({ level: label }) },
    // trace_id and span_id of the active span (nothing when tracing is off or outside a span).
    mixin: traceLogFields,
  });
}
