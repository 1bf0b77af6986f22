import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type express from 'express';
import type { Logger } from '../logger';
import { counter, histogram, metricsFor, registerServedService, registry } from '../metrics';
import { bindRequestId, REQUEST_ID_HEADER, requestIdFrom, withRequestId } from '../request-id';
import { extractTraceContext, SERVICE_ATTRIBUTE, tracer } from '../tracing';

function httpMetrics() {
  return {
    requests: counter({ name: 'http_requests_total', help: 'HTTP requests served, by service, method, route and status class.', labelNames: ['service', 'method', 'route', 'status'] }),
    duration: histogram({ name: 'http_request_duration_seconds', help: 'HTTP request duration in seconds, by service and route.', labelNames: ['service', 'route'] }),
  };
}

/**
 * The HTTP metrics {@link mountOperationalRoutes} records, for a handler that answers `POST
 * /graphql` before Express does (the gateway's cached answers): call it once, then once per
 * answered request with its status and duration.
 */
export function servedRequestMetrics(service: string): (status: number, seconds: number) => void {
  const { requests, duration } = httpMetrics();
  const ok = requests.labels({ service, method: 'POST', route: '/graphql', status: '2xx' });
  const timing = duration.labels({ service, route: '/graphql' });
  return (status, seconds) => {
    if (status >= 200 && status < 300) ok.inc();
    else requests.inc({ service, method: 'POST', route: '/graphql', status: `${Math.floor(status / 100)}xx` });
    timing.observe(seconds);
  };
}

/**
 * Adds `/health/live`, `/health/ready` and `/metrics` to an express app, and to every `/graphql`
 * request its request id, server span and (at debug level, with `logger`) an access log line.
 */
export function mountOperationalRoutes(app: express.Express, service: string, isReady: () => Promise<boolean>, options: { readonly logger?: Logger } = {}): void {
  const { logger } = options;
  const { requests, duration } = httpMetrics();
  registerServedService(service);
  app.use((req, res, next) => {
    const end = duration.startTimer();
    // Read now: a mounted router (app.use('/graphql', …)) strips its prefix from req.path while it runs.
    const route = req.path.startsWith('/graphql') ? '/graphql' : req.path.startsWith('/health') ? '/health' : req.path === '/metrics' ? '/metrics' : 'other';
    res.on('finish', () => {
      requests.inc({ service, method: req.method, route, status: `${Math.floor(res.statusCode / 100)}xx` });
      end({ service, route });
    });
    if (route !== '/graphql') {
      next();
      return;
    }
    // The request id: the caller's (the gateway's, at a subgraph) or a new one; answered in the
    // response header, active for the whole request (its log lines carry it), passed on with the
    // trace context (injectTraceContext). Bound to req/res like the trace context below.
    const requestId = requestIdFrom(req.headers, true);
    res.setHeader(REQUEST_ID_HEADER, requestId);
    withRequestId(requestId, () => {
      bindRequestId(req);
      bindRequestId(res);
      const started = process.hrtime.bigint();
      // Added after the bindings: the line carries the request id (and the trace id when traced).
      const accessLog = (): void => {
        if (logger?.isLevelEnabled('debug')) res.on('finish', () => logger.debug({ method: req.method, status: res.statusCode, ms: Number(process.hrtime.bigint() - started) / 1e6 }, 'graphql request'));
      };
      if (req.method === 'GET') {
        accessLog();
        next();
        return;
      }
      // A server span continuing the caller's traceparent (the client's at the gateway, the
      // gateway's fetch span at a subgraph). Binding req/res makes the body parser's stream
      // callbacks, and so the whole GraphQL execution, run inside it. No-op when tracing is off.
      const parent = extractTraceContext(req.headers);
      const span = tracer().startSpan(`${req.method} /graphql`, { kind: SpanKind.SERVER, attributes: { [SERVICE_ATTRIBUTE]: service, 'http.request.method': req.method, 'url.path': '/graphql', 'shop.request_id': requestId } }, parent);
      res.on('finish', () => {
        span.setAttribute('http.response.status_code', res.statusCode);
        if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
        span.end();
      });
      const ctx = trace.setSpan(parent, span);
      context.bind(ctx, req);
      context.bind(ctx, res);
      context.with(ctx, () => {
        accessLog();
        next();
      });
    });
  });
  app.get('/health/live', (_req, res) => void res.json({ status: 'ok' }));
  app.get('/health/ready', async (_req, res) => {
    const ok = await isReady().catch(() => false);
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'not ready' });
  });
  app.get('/metrics', async (_req, res) => {
    res.set('Content-Type', registry.contentType);
    // Only this service's series (and the process-wide ones): see metricsFor.
    res.send(await metricsFor(service));
  });
}
