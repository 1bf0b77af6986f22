/**
 * Distributed tracing (OpenTelemetry). One checkout is one trace: the client's W3C `traceparent`
 * is continued by the gateway, passed to every subgraph it fetches from, written into each outbox
 * event (`meta`, mirrored into the bus message headers) and continued by the consumers, whose own
 * events carry it further; a subscription event carries it from the subgraph's live listener to
 * the gateway's delivery. Log lines written inside a span carry `trace_id` and `span_id`.
 *
 * Each service has its own `service.name`, also when several share a process (`npm start`): one
 * TracerProvider per service, each with its own Resource, behind one routing provider registered
 * globally. A span belongs to the service named by its `shop.service` attribute, else to the
 * service of its parent span (in this process), else to the process's default service. So
 * @apollo/gateway's spans, pg's query spans and every child span land in the right service
 * without knowing about any of this. All providers share one span processor (one batch, one
 * exporter connection).
 *
 * Off by default, and then free: nothing is registered, so the OpenTelemetry API is a no-op
 * (no context manager, no propagator, non-recording spans). On when `OTEL_EXPORTER_OTLP_ENDPOINT`
 * or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set (OTLP/HTTP), or `OTEL_TRACES_EXPORTER=zipkin` /
 * `OTEL_EXPORTER_ZIPKIN_ENDPOINT` (Zipkin v2 JSON, the local viewer of scripts/zipkin/zipkin.sh),
 * or when a test passes its own exporter to `initTracing`. Database queries are spans through
 * `@opentelemetry/instrumentation-pg` (only under a parent span: the relays' polling is not traced).
 */
import type { Context, Span, SpanKind, Attributes, Tracer, TracerOptions, TracerProvider, SpanOptions } from '@opentelemetry/api';
import { context, isSpanContextValid, propagation, ROOT_CONTEXT, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { ZipkinExporter } from '@opentelemetry/exporter-zipkin';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { BatchSpanProcessor, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { currentRequestId, REQUEST_ID_HEADER } from './request-id';

export { InMemorySpanExporter };
export type { ReadableSpan } from '@opentelemetry/sdk-trace-base';

/** The attribute naming the shop service a span belongs to (several share a process in the embedded default). */
export const SERVICE_ATTRIBUTE = 'shop.service';
/** The resource attribute every exporter reads as the service (Zipkin's localEndpoint.serviceName). */
export const SERVICE_NAME = 'service.name';

export interface TracingOptions {
  /** `service.name` of spans that belong to no shop service (default OTEL_SERVICE_NAME, else this). */
  readonly serviceName: string;
  /** Export to this exporter, span by span (tests: an InMemorySpanExporter). Default: from the environment. */
  readonly exporter?: SpanExporter;
}

export interface Tracing {
  /** Exports what is pending and stops tracing. */
  shutdown(): Promise<void>;
}

let active: (Tracing & { router: ServiceTracerProvider }) | undefined;

/** The exporter the environment asks for: `zipkin` or `otlp` (OTEL_TRACES_EXPORTER), none when tracing is off. */
export function configuredExporter(env: NodeJS.ProcessEnv = process.env): 'zipkin' | 'otlp' | undefined {
  const named = (env['OTEL_TRACES_EXPORTER'] ?? '').trim().toLowerCase();
  if (named === 'none') return undefined;
  if (named === 'zipkin' || (!named && env['OTEL_EXPORTER_ZIPKIN_ENDPOINT'])) return 'zipkin';
  if (named === 'otlp' || env['OTEL_EXPORTER_OTLP_ENDPOINT'] || env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']) return 'otlp';
  return undefined;
}

/** True when the environment configures an exporter (OTLP or Zipkin). */
export function tracingConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  return configuredExporter(env) !== undefined;
}

/**
 * One TracerProvider (and so one Resource, one `service.name`) per service, created on first use,
 * all feeding the same span processor; its tracers hand each span to the provider of the service
 * it belongs to (see the module comment).
 */
class ServiceTracerProvider implements TracerProvider {
  private readonly providers = new Map<string, NodeTracerProvider>();

  constructor(
    private readonly processor: SpanProcessor,
    private readonly defaultService: string,
  ) {}

  provider(service: string): NodeTracerProvider {
    let provider = this.providers.get(service);
    if (!provider) {
      provider = new NodeTracerProvider({ resource: resourceFromAttributes({ [SERVICE_NAME]: service, 'service.namespace': 'shop' }), spanProcessors: [this.processor] });
      this.providers.set(service, provider);
    }
    return provider;
  }

  getTracer(name: string, version?: string, options?: TracerOptions): Tracer {
    const tracerOf = (service: string): Tracer => this.provider(service).getTracer(name, version, options);
    const serviceOf = (spanOptions: SpanOptions | undefined, ctx: Context): string => {
      const named = spanOptions?.attributes?.[SERVICE_ATTRIBUTE];
      if (typeof named === 'string' && named) return named;
      // The parent span of this process: an SDK span knows its resource (a remote parent does not).
      const parent = trace.getSpan(ctx) as { resource?: { attributes: Attributes } } | undefined;
      const inherited = parent?.resource?.attributes[SERVICE_NAME];
      return typeof inherited === 'string' ? inherited : this.defaultService;
    };
    return {
      startSpan: (spanName, spanOptions, ctx = context.active()) => tracerOf(serviceOf(spanOptions, ctx)).startSpan(spanName, spanOptions, ctx),
      startActiveSpan: ((spanName: string, ...rest: unknown[]) => {
        const fn = rest.pop() as (span: Span) => unknown;
        const [spanOptions, ctx] = rest as [SpanOptions | undefined, Context | undefined];
        const parent = ctx ?? context.active();
        return tracerOf(serviceOf(spanOptions, parent)).startActiveSpan(spanName, spanOptions ?? {}, parent, fn);
      }) as Tracer['startActiveSpan'],
    };
  }

  async forceFlush(): Promise<void> {
    await this.processor.forceFlush();
  }

  async shutdown(): Promise<void> {
    await this.processor.forceFlush();
    await Promise.all([...this.providers.values()].map((p) => p.shutdown()));
    await this.processor.shutdown();
  }
}

function exporterFromEnv(): SpanExporter {
  // Both read their standard variables (OTEL_EXPORTER_ZIPKIN_ENDPOINT, OTEL_EXPORTER_OTLP_*).
  return configuredExporter() === 'zipkin' ? new ZipkinExporter() : new OTLPTraceExporter();
}

/**
 * Starts tracing for this process (idempotent: the first call wins, later calls answer the same
 * handle). Registers the routing provider, the W3C trace-context propagator, the
 * AsyncLocalStorage context manager and the pg instrumentation.
 */
export function initTracing(options: TracingOptions): Tracing {
  if (active) return active;
  const exporter = options.exporter ?? exporterFromEnv();
  // A test exporter sees each span at once; the others get batches (default: every 5 s or 512
  // spans; OTEL_BSP_SCHEDULE_DELAY and the other OTEL_BSP_* variables tune it).
  const processor = options.exporter ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(exporter);
  const router = new ServiceTracerProvider(processor, process.env['OTEL_SERVICE_NAME'] ?? options.serviceName);
  // What NodeTracerProvider.register() would do, with the router as the global provider (the
  // tracers that libraries took at load time, such as @apollo/gateway's, follow it).
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }));
  trace.setGlobalTracerProvider(router);
  const unregister = registerInstrumentations({ tracerProvider: router, instrumentations: [new PgInstrumentation({ requireParentSpan: true, enhancedDatabaseReporting: false })] });
  const handle = {
    router,
    shutdown: async () => {
      if (active !== handle) return;
      active = undefined;
      unregister();
      await router.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
  active = handle;
  return handle;
}

/** Starts tracing from the environment when an exporter is configured; otherwise does nothing. */
export function initTracingFromEnv(serviceName: string): Tracing | undefined {
  return active ?? (tracingConfigured() ? initTracing({ serviceName }) : undefined);
}

/** Whether this process traces (initTracing ran and was not shut down). */
export function tracingActive(): boolean {
  return active !== undefined;
}

/** Exports the spans ended so far (a test, or a process about to stop). */
export async function flushTraces(): Promise<void> {
  await active?.router.forceFlush();
}

/** The tracer of the platform's own spans (HTTP server, outbox, consumers). */
export function tracer() {
  return trace.getTracer('@shop/platform');
}

/**
 * Writes the trace context of `ctx` (default: the active one) into `carrier` (HTTP or message
 * headers, an event's meta), and the active request id (`x-request-id`, request-id.ts), which
 * travels the same way also when tracing is off.
 */
export function injectTraceContext(carrier: Record<string, string>, ctx: Context = context.active()): Record<string, string> {
  propagation.inject(ctx, carrier);
  const requestId = currentRequestId();
  if (requestId !== undefined) carrier[REQUEST_ID_HEADER] = requestId;
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
