/**
 * Distributed tracing (OpenTelemetry). One checkout is one trace: the client's W3C `traceparent`
 * is continued by the gateway, passed to every subgraph it fetches from, written into each outbox
 * event (`meta`, mirrored into the bus message headers) and continued by the consumers, whose own
 * events carry it further. Log lines written inside a span carry `trace_id` and `span_id`.
 *
 * Off by default, and then free: nothing is registered, so the OpenTelemetry API is a no-op
 * (no context manager, no propagator, non-recording spans). On when `OTEL_EXPORTER_OTLP_ENDPOINT`
 * or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set (spans exported over OTLP/HTTP in batches), or
 * when a test passes its own exporter to `initTracing`.
 */
import type { Context, Span, SpanKind, Attributes } from '@opentelemetry/api';
import { context, isSpanContextValid, propagation, ROOT_CONTEXT, SpanStatusCode, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import { BatchSpanProcessor, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

export { InMemorySpanExporter };
export type { ReadableSpan } from '@opentelemetry/sdk-trace-base';

/** The attribute naming the shop service a span belongs to (several share a process in the embedded default). */
export const SERVICE_ATTRIBUTE = 'shop.service';

export interface TracingOptions {
  /** `service.name` of the process (default OTEL_SERVICE_NAME, else the first service started). */
  readonly serviceName: string;
  /** Export to this exporter, span by span (tests: an InMemorySpanExporter). Default: OTLP over HTTP. */
  readonly exporter?: SpanExporter;
}

export interface Tracing {
  /** Exports what is pending and stops tracing. */
  shutdown(): Promise<void>;
}

let active: (Tracing & { provider: NodeTracerProvider }) | undefined;

/** True when an OTLP endpoint is configured in the environment. */
export function tracingConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env['OTEL_EXPORTER_OTLP_ENDPOINT'] || env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']);
}

/**
 * Starts tracing for this process (idempotent: the first call wins, later calls answer the same
 * handle). Registers the W3C trace-context propagator and the AsyncLocalStorage context manager.
 */
export function initTracing(options: TracingOptions): Tracing {
  if (active) return active;
  const exporter = options.exporter ?? new OTLPTraceExporter();
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': process.env['OTEL_SERVICE_NAME'] ?? options.serviceName }),
    // A test exporter sees each span at once; OTLP gets batches (default: every 5 s or 512 spans).
    spanProcessors: [options.exporter ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(exporter)],
  });
  provider.register();
  const handle = {
    provider,
    shutdown: async () => {
      if (active !== handle) return;
      active = undefined;
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
  active = handle;
  return handle;
}

/** Starts tracing from the environment when an OTLP endpoint is configured; otherwise does nothing. */
export function initTracingFromEnv(serviceName: string): Tracing | undefined {
  return active ?? (tracingConfigured() ? initTracing({ serviceName }) : undefined);
}

/** The tracer of the platform's own spans (HTTP server, outbox, consumers). */
export function tracer() {
  return trace.getTracer('@shop/platform');
}

/** Writes the trace context of `ctx` (default: the active one) into `carrier` (HTTP or message headers). */
export function injectTraceContext(carrier: Record<string, string>, ctx: Context = context.active()): Record<string, string> {
  propagation.inject(ctx, carrier);
  return carrier;
}

/** The context a `traceparent` in `carrier` continues (the root context when there is none). */
export function extractTraceContext(carrier: Readonly<Record<string, string | string[] | undefined>>): Context {
  return propagation.extract(ROOT_CONTEXT, carrier);
}

/**
 * Runs `fn` in a new span (child of `parent`, default the active context), ending it when `fn`
 * settles and marking it as an error when `fn` throws.
 */
export async function inSpan<T>(name: string, options: { kind: SpanKind; attributes?: Attributes; parent?: Context }, fn: (span: Span) => Promise<T>): Promise<T> {
  const parent = options.parent ?? context.active();
  const span = tracer().startSpan(name, { kind: options.kind, ...(options.attributes ? { attributes: options.attributes } : {}) }, parent);
  try {
    return await context.with(trace.setSpan(parent, span), () => fn(span));
  } catch (error) {
    span.recordException(error instanceof Error ? error : String(error));
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
    throw error;
  } finally {
    span.end();
  }
}

/** `trace_id` and `span_id` of the active span, for log lines (empty outside a span). */
export function traceLogFields(): { trace_id?: string; span_id?: string } {
  const sc = trace.getSpan(context.active())?.spanContext();
  return sc && isSpanContextValid(sc) ? { trace_id: sc.traceId, span_id: sc.spanId } : {};
}
