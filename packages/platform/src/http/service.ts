import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer } from '@apollo/server';
import type { BaseContext as ApolloContext } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { expressMiddleware } from '@as-integrations/express5';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/resolverMap';
import express from 'express';
import type { DocumentNode, GraphQLFormattedError, GraphQLSchema } from 'graphql';
import { GraphQLError } from 'graphql';
import type { DataSource, EntityManager, EntitySchema, MigrationInterface } from 'typeorm';
import { createDataSource, runMigrationsLocked, instrumentDataSource } from '../db/data-source';
import { PlatformOutboxInbox1700000000000 } from '../db/platform.migration';
import { PUBLIC_ERROR_CODES } from '../errors';
import type { Consumer, EventBus } from '../events/bus';
import type { EventHandler, LiveHandler } from '../events/consumers';
import { startEventConsumers, startLiveListener } from '../events/consumers';
import { Outbox, OutboxRelay } from '../events/outbox';
import type { AuthContext, Identity } from '../identity';
import { verifyClientAddress, verifyIdentity } from '../identity';
import type { Logger } from '../logger';
import { createLogger } from '../logger';
import { collectProcessMetrics, counter, histogram, metricsFor, registerServedService, registry } from '../metrics';
import { extractTraceContext, initTracingFromEnv, SERVICE_ATTRIBUTE, tracer } from '../tracing';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { useGraphqlMetrics } from './graphql-metrics.plugin';

/** What a service's domain code gets from the platform. */
export interface ServiceDeps {
  readonly name: string;
  readonly logger: Logger;
  readonly dataSource: DataSource;
  readonly bus: EventBus;
  readonly outbox: Outbox;
  readonly settings: ServiceSettings;
  /** Runs `fn` in one transaction, then wakes the outbox relay so its events go out at once. */
  transaction<T>(fn: (tx: EntityManager) => Promise<T>): Promise<T>;
  /** Registers a live listener (every replica sees every event); stopped on shutdown. */
  listen(handlers: ReadonlyArray<LiveHandler<any>>): Promise<void>;
}

/** The context every resolver receives; services extend it through `context`. */
export interface RequestContext extends AuthContext {
  readonly identity: Identity | null;
  readonly deps: ServiceDeps;
  /** The caller's network address: as signed by the gateway, else the socket peer (for rate limits). */
  readonly clientAddress?: string;
}

/** A background job a service runs while it is up (e.g. a saga timeout sweeper). */
export interface BackgroundJob {
  stop(): Promise<void>;
}

/** Everything that makes one subgraph; `subgraphs/<name>/src/service.ts` exports one. */
export interface ServiceDefinition<TContext extends RequestContext = RequestContext> {
  readonly name: string;
  readonly defaultPort: number;
  readonly typeDefs: DocumentNode;
  readonly resolvers: GraphQLResolverMap<TContext> | ((deps: ServiceDeps) => GraphQLResolverMap<TContext>);
  readonly entities: ReadonlyArray<EntitySchema<any>>;
  /** The service's own migrations, in order (the platform's outbox/inbox migration comes first). */
  readonly migrations: ReadonlyArray<new () => MigrationInterface>;
  /** Transactional event handlers (with the inbox); the consumer group is the service name. */
  readonly consumers?: (deps: ServiceDeps) => ReadonlyArray<EventHandler<any>>;
  /** Builds the per-request context (DataLoaders live here: built per request). */
  readonly context?: (base: RequestContext) => TContext | Promise<TContext>;
  /** Loads demo data when enabled (idempotent). */
  readonly seed?: (deps: ServiceDeps) => Promise<void>;
  /** Starts background jobs after the service is up. */
  readonly background?: (deps: ServiceDeps) => ReadonlyArray<BackgroundJob> | Promise<ReadonlyArray<BackgroundJob>>;
  /** Extra HTTP routes (e.g. a development mailbox). */
  readonly routes?: (app: express.Express, deps: ServiceDeps) => void;
  /** Attaches extra protocol handlers to the HTTP server (e.g. graphql-ws); returns a disposer. */
  readonly attach?: (server: http.Server, schema: GraphQLSchema, deps: ServiceDeps) => { dispose(): Promise<void> };
}

export interface ServiceSettings {
  /** HTTP port; 0 picks a free one. */
  readonly port: number;
  /** Interface to bind. Default 127.0.0.1 (0.0.0.0 in containers via HOST). */
  readonly host?: string;
  readonly databaseUrl: string;
  readonly bus: EventBus;
  /** Shared secret that signs the identity header from the gateway. */
  readonly internalAuthSecret: string;
  /** Run pending migrations at start. Default true (Kubernetes runs them in a Job and sets false). */
  readonly runMigrations?: boolean;
  /** Load demo data at start. Default false. */
  readonly seed?: boolean;
  readonly nodeEnv?: 'development' | 'production' | 'test';
  readonly logger?: Logger;
  /** Service-specific settings (validated by the service's own config). */
  readonly extra?: Readonly<Record<string, unknown>>;
  /** Maximum time to drain in-flight work on stop. Default 10 s. */
  readonly drainTimeoutMs?: number;
  /** Unique id of this replica (live listener groups). Default random. */
  readonly instanceId?: string;
}

export interface RunningService {
  readonly name: string;
  readonly url: string;
  readonly port: number;
  readonly deps: ServiceDeps;
  stop(): Promise<void>;
}

/** Starts a subgraph: database and migrations, outbox relay, event consumers, GraphQL over HTTP, health and metrics. */
export async function startService<TContext extends RequestContext>(def: ServiceDefinition<TContext>, settings: ServiceSettings): Promise<RunningService> {
  const logger = settings.logger ?? createLogger(def.name);
  collectProcessMetrics();
  initTracingFromEnv(def.name);
  const dataSource = createDataSource({
    url: settings.databaseUrl,
    name: def.name,
    entities: def.entities,
    migrations: [PlatformOutboxInbox1700000000000, ...def.migrations],
  });
  await dataSource.initialize();
  const uninstrument = instrumentDataSource(dataSource, def.name);
  const cleanups: Array<() => Promise<void>> = [
    async () => {
      uninstrument();
      await dataSource.destroy();
    },
  ];
  const stopAll = async (): Promise<void> => {
    for (const c of cleanups.splice(0).reverse()) await c().catch((err: unknown) => logger.error({ err }, 'error during shutdown'));
  };
  try {
    if (settings.runMigrations ?? true) {
      const applied = await runMigrationsLocked(dataSource);
      if (applied.length) logger.info({ migrations: applied }, 'applied migrations');
    }
    const outbox = new Outbox(def.name);
    const relay = new OutboxRelay({ dataSource, bus: settings.bus, logger, service: def.name });
    const liveConsumers: Consumer[] = [];
    const pendingListens: Array<Promise<void>> = [];
    const instanceId = settings.instanceId ?? Math.random().toString(36).slice(2, 10);
    const deps: ServiceDeps = {
      name: def.name,
      logger,
      dataSource,
      bus: settings.bus,
      outbox,
      settings,
      transaction: async (fn) => {
        const result = await dataSource.transaction(fn);
        relay.wake();
        return result;
      },
      listen: async (handlers) => {
        // A group per call (a second call must not share the first one's partitions), tracked
        // while it joins so that a stop during the join still stops it.
        const groupId = `${def.name}.live.${instanceId}${pendingListens.length ? `-${pendingListens.length}` : ''}`;
        const joining = startLiveListener({ bus: settings.bus, groupId, handlers, logger }).then((consumer) => void liveConsumers.push(consumer));
        pendingListens.push(joining);
        await joining;
      },
    };
    if (settings.seed && def.seed) await def.seed(deps);
    relay.start();
    cleanups.push(() => relay.stop());

    if (def.consumers) {
      const handled = histogram({ name: 'events_handled_duration_seconds', help: 'Time to handle one consumed event, by service, type and outcome.', labelNames: ['service', 'type', 'outcome'] });
      const consumer = await startEventConsumers({
        bus: settings.bus,
        dataSource,
        groupId: def.name,
        handlers: def.consumers(deps),
        logger,
        afterCommit: () => relay.wake(),
        onHandled: (type, seconds, outcome) => handled.observe({ service: def.name, type, outcome }, seconds),
      });
      cleanups.push(() => consumer.stop());
    }
    cleanups.push(async () => {
      await Promise.allSettled(pendingListens);
      await Promise.all(liveConsumers.map((c) => c.stop()));
    });

    const schema = buildSubgraphSchema({
      typeDefs: def.typeDefs,
      resolvers: (typeof def.resolvers === 'function' ? def.resolvers(deps) : def.resolvers) as GraphQLResolverMap<unknown>,
    });
    const app = express();
    app.disable('x-powered-by');
    const httpServer = http.createServer(app);
    httpServer.keepAliveTimeout = 65_000; // longer than the gateway's idle socket timeout
    let ready = false;
    const apollo = new ApolloServer<TContext>({
      schema,
      csrfPrevention: true,
      includeStacktraceInErrorResponses: settings.nodeEnv === 'development',
      formatError: (formatted, error) => maskError(formatted, error, logger),
      plugins: [ApolloServerPluginDrainHttpServer({ httpServer }), ApolloServerPluginInlineTraceDisabled(), useGraphqlMetrics(def.name) as never],
      // Shutdown is ours (onShutdown -> stop()): Apollo's own SIGTERM handler would stop the server
      // and re-send the signal, which ends the process before the drain (exit 1, consumers not closed).
      stopOnTerminationSignals: false,
    });
    await apollo.start();
    mountOperationalRoutes(app, def.name, async () => ready && (await dataSourceHealthy(dataSource)) && (await settings.bus.isReady()));
    def.routes?.(app, deps);
    app.use(
      '/graphql',
      express.json({ limit: '1mb' }),
      expressMiddleware(apollo, {
        context: async ({ req }) => {
          let identity: Identity | null;
          try {
            identity = verifyIdentity(req.headers, settings.internalAuthSecret);
          } catch (error) {
            if (error instanceof GraphQLError) throw new GraphQLError(error.message, { extensions: { ...error.extensions, http: { status: 401 } } });
            throw error;
          }
          const clientAddress = verifyClientAddress(req.headers, settings.internalAuthSecret) ?? req.socket.remoteAddress ?? 'unknown';
          const base: RequestContext = { identity, deps, clientAddress };
          return (def.context ? await def.context(base) : base) as TContext;
        },
      }),
    );
    const attached = def.attach?.(httpServer, schema, deps);
    await new Promise<void>((resolve, reject) => {
      httpServer.once('error', reject);
      httpServer.listen(settings.port, settings.host ?? '127.0.0.1', () => resolve());
    });
    const port = (httpServer.address() as AddressInfo).port;
    cleanups.push(async () => {
      ready = false;
      await attached?.dispose();
      // Stops accepting, drains in-flight requests (DrainHttpServer), then closes idle sockets.
      await withTimeout(apollo.stop(), settings.drainTimeoutMs ?? 10_000);
      httpServer.closeAllConnections();
    });
    if (def.background) {
      const jobs = await def.background(deps);
      cleanups.push(async () => void (await Promise.all(jobs.map((j) => j.stop()))));
    }
    ready = true;
    const url = `http://127.0.0.1:${port}/graphql`;
    logger.info({ url, bus: settings.bus.kind }, 'subgraph ready');
    let stopping: Promise<void> | undefined;
    return {
      name: def.name,
      url,
      port,
      deps,
      stop: () => (stopping ??= stopAll().then(() => logger.info('subgraph stopped'))),
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** Adds `/health/live`, `/health/ready` and `/metrics` to an express app. */
export function mountOperationalRoutes(app: express.Express, service: string, isReady: () => Promise<boolean>): void {
  const requests = counter({ name: 'http_requests_total', help: 'HTTP requests served, by service, method, route and status class.', labelNames: ['service', 'method', 'route', 'status'] });
  const duration = histogram({ name: 'http_request_duration_seconds', help: 'HTTP request duration in seconds, by service and route.', labelNames: ['service', 'route'] });
  registerServedService(service);
  app.use((req, res, next) => {
    const end = duration.startTimer();
    // Read now: a mounted router (app.use('/graphql', …)) strips its prefix from req.path while it runs.
    const route = req.path.startsWith('/graphql') ? '/graphql' : req.path.startsWith('/health') ? '/health' : req.path === '/metrics' ? '/metrics' : 'other';
    res.on('finish', () => {
      requests.inc({ service, method: req.method, route, status: `${Math.floor(res.statusCode / 100)}xx` });
      end({ service, route });
    });
    if (route !== '/graphql' || req.method === 'GET') {
      next();
      return;
    }
    // A server span continuing the caller's traceparent (the client's at the gateway, the
    // gateway's fetch span at a subgraph). Binding req/res makes the body parser's stream
    // callbacks, and so the whole GraphQL execution, run inside it. No-op when tracing is off.
    const parent = extractTraceContext(req.headers);
    const span = tracer().startSpan(`${req.method} /graphql`, { kind: SpanKind.SERVER, attributes: { [SERVICE_ATTRIBUTE]: service, 'http.request.method': req.method, 'url.path': '/graphql' } }, parent);
    res.on('finish', () => {
      span.setAttribute('http.response.status_code', res.statusCode);
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    });
    const ctx = trace.setSpan(parent, span);
    context.bind(ctx, req);
    context.bind(ctx, res);
    context.with(ctx, next);
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

async function dataSourceHealthy(ds: DataSource): Promise<boolean> {
  try {
    await ds.query('SELECT 1');
    return true;
  } catch {
    return false;
  }
}

/** Hides internal errors from clients: only the contract's codes go out verbatim. */
export function maskError(formatted: GraphQLFormattedError, error: unknown, logger: Logger): GraphQLFormattedError {
  const code = String(formatted.extensions?.['code'] ?? '');
  if (PUBLIC_ERROR_CODES.has(code)) return formatted;
  logger.error({ err: error, path: formatted.path }, 'unexpected error in resolver');
  return { message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' }, ...(formatted.path ? { path: formatted.path } : {}) };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return Promise.race([p, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), ms).unref())]);
}

export type { ApolloContext };
