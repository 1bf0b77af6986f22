/**
 * @apollo/gateway's spans (its tracer), started only when a tracer provider is registered. Without
 * one (no exporter configured: initTracingFromEnv did nothing) OpenTelemetry's no-op tracer still
 * allocates a span and a context per call for nothing (3-5 % of the gateway's CPU in the
 * benchmark's profile with one request span, one execute, one post-processing and a fetch span per
 * fetch); `fn` then gets one shared non-recording span and runs in the active context, as the
 * no-op tracer would run it. With a provider, every span is what @apollo/gateway starts.
 */
import { tracer } from '@apollo/gateway/dist/utilities/opentelemetry';
import type { Attributes, Span } from '@opentelemetry/api';
import { INVALID_SPAN_CONTEXT, ProxyTracerProvider, trace } from '@opentelemetry/api';

/** What `trace.getTracerProvider()` delegates to while nothing is registered. */
const NOOP_PROVIDER = new ProxyTracerProvider().getDelegate();
const NOOP_SPAN: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/** True when a tracer provider is registered (spans are started and may be recorded). */
export function tracingOn(): boolean {
  const provider = trace.getTracerProvider();
  return !(provider instanceof ProxyTracerProvider) || provider.getDelegate() !== NOOP_PROVIDER;
}

/** `tracer.startActiveSpan(name, { attributes: attributes?.() }, fn)` when tracing is on; else `fn` with a no-op span. */
export function activeSpan<T>(name: string, attributes: (() => Attributes) | undefined, fn: (span: Span) => T): T {
  if (!tracingOn()) return fn(NOOP_SPAN);
  return attributes ? tracer.startActiveSpan(name, { attributes: attributes() }, fn) : tracer.startActiveSpan(name, fn);
}
