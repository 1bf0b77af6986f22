import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { expressMiddleware } from '@as-integrations/express5';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/resolverMap';
import express from 'express';
import type { DataSource } from 'typeorm';
import type { SettingsShape } from '../config';
import { parseSettings } from '../config';
import { installAfterCommitHooks } from '../db/after-commit';
import { createDataSource, databasePoolSettings, initializeDataSource, instrumentDataSource, runMigrationsLocked } from '../db/data-source';
import { PlatformOutboxInbox1700000000000 } from '../db/platform.migration';
import { maskError } from '../errors';
import type { Consumer } from '../events/bus';
import { startEventConsumers, startLiveListener } from '../events/consumers';
import { Outbox, OutboxRelay } from '../events/outbox';
import { bodyDigest, GATEWAY_SIGNATURE_HEADER, verifyInternalRequest } from '../internal-request';
import type { VerifiedRequest } from '../internal-request';
import { DEFAULT_QUERY_LIMITS, queryLimitRules, useExecutionBounds, withLimitCode } from '../http/query-limits';
import { SessionDenyList, subgraphDenyListMetrics } from '../revocations';
import { serveSubscriptions } from '../live/serve';
import { createLogger } from '../logger';
import { collectProcessMetrics, histogram } from '../metrics';
import { initTracingFromEnv } from '../tracing';
import { graphqlBody, jsonErrorHandler, sendGraphqlError } from '../http/graphql-body';
import { useGraphqlMetrics } from '../http/graphql-metrics.plugin';
import { mountOperationalRoutes } from '../http/operational-routes';
import type { RequestContext, RunningService, ServiceDefinition, ServiceDeps, ServiceOptions } from './definition';
import { DEFAULT_DRAIN_TIMEOUT_MS } from './definition';

/**
 * Starts a subgraph: its settings (parsed once; a bad one throws a ConfigError before anything
 * starts), database and migrations, its parts (`setup`), outbox relay, event consumers, GraphQL
 * over HTTP (and over graphql-ws when it has `live`), health, metrics and background jobs.
 */
export async function startService<S extends SettingsShape, P, C extends RequestContext>(def: ServiceDefinition<S, P, C>, options: ServiceOptions<S>): Promise<RunningService<P>> {
  const logger = options.logger ?? createLogger(def.name);
  const nodeEnv = options.nodeEnv ?? 'development';
  const settings = parseSettings(def.settings, options.settings, nodeEnv);
  collectProcessMetrics();
  initTracingFromEnv(def.name);
  const pool = parseSettings(databasePoolSettings(def.databasePoolMax), { ...(options.databasePool?.max ? { DB_POOL_MAX: options.databasePool.max } : {}), ...(options.databasePool?.acquireTimeoutMs ? { DB_POOL_ACQUIRE_TIMEOUT_MS: options.databasePool.acquireTimeoutMs } : {}) }, nodeEnv);
  const dataSource = createDataSource({
    url: options.databaseUrl,
    ssl: options.databaseTls,
    name: def.name,
    poolSize: pool.DB_POOL_MAX,
    acquireTimeoutMs: pool.DB_POOL_ACQUIRE_TIMEOUT_MS,
    entities: def.entities,
    migrations: [PlatformOutboxInbox1700000000000, ...def.migrations],
  });
  await initializeDataSource(dataSource, options.databaseUrl);
  installAfterCommitHooks(dataSource, (err) => logger.error({ err }, 'after-commit hook failed'));
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
    if (options.runMigrations ?? true) {
      const applied = await runMigrationsLocked(dataSource);
      if (applied.length) logger.info({ migrations: applied }, 'applied migrations');
    }
    const relay = new OutboxRelay({ dataSource, bus: options.bus, logger, service: def.name });
    const liveConsumers: Consumer[] = [];
    const pendingListens: Array<Promise<void>> = [];
    const instanceId = options.instanceId ?? Math.random().toString(36).slice(2, 10);
    const deps: ServiceDeps = {
      name: def.name,
      logger,
      nodeEnv,
      dataSource,
      bus: options.bus,
      outbox: new Outbox(def.name),
      transaction: async (fn) => {
        const result = await dataSource.transaction(fn);
        relay.wake();
        return result;
      },
      wakeOutboxRelay: () => relay.wake(),
      listen: async (handlers, listenOptions) => {
        // A group per call (a second call must not share the first one's partitions), tracked
        // while it joins so that a stop during the join still stops it.
        const groupId = `${def.name}.live.${instanceId}${pendingListens.length ? `-${pendingListens.length}` : ''}`;
        const joining = startLiveListener({ bus: options.bus, groupId, handlers, logger, ...listenOptions }).then((consumer) => void liveConsumers.push(consumer));
        pendingListens.push(joining);
        await joining;
      },
    };
    const parts = await def.setup(deps, settings);
    const contextOf = (base: RequestContext): C => def.context(base, parts);
    if (options.seed && def.seed) await def.seed(parts, deps);
    relay.start();
    cleanups.push(() => relay.stop());

    if (def.consumers) {
      const handled = histogram({ name: 'events_handled_duration_seconds', help: 'Time to handle one consumed event, by service, type and outcome.', labelNames: ['service', 'type', 'outcome'] });
      const consumer = await startEventConsumers({
        bus: options.bus,
        dataSource,
        groupId: def.name,
        handlers: def.consumers(parts, deps),
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

    // The sessions revoked by users: identities of these sessions are refused here too.
    const revocations = new SessionDenyList({ groupPrefix: `${def.name}.revocations`, metrics: (list) => subgraphDenyListMetrics(def.name, list) });
    let revocationsReplayed = options.followRevocations === false;
    if (options.followRevocations !== false) {
      // Not awaited: a consumer group join takes seconds on Kafka; readiness waits for the replay.
      // A group of its own on each start: a reused one would resume from its offset and skip the replay.
      const feed = revocations.follow({ bus: options.bus, logger, instanceId: `${instanceId}-${Math.random().toString(36).slice(2, 8)}` });
      feed.then(
        (f) => void f.replayed.then(() => (revocationsReplayed = true)),
        (err: unknown) => logger.error({ err }, 'could not follow session revocations'),
      );
      cleanups.push(async () => {
        await (await feed.catch(() => undefined))?.stop();
      });
    }
    const limits = { ...DEFAULT_QUERY_LIMITS, ...options.limits };
    const protection = queryLimitRules(limits, { blockFieldSuggestion: nodeEnv === 'production' });
    const checkRequest = (headers: Record<string, string | string[] | undefined>, method: string, path: string, digest: string): VerifiedRequest =>
      verifyInternalRequest(headers, {
        secret: options.internalAuthSecret,
        audience: def.name,
        method,
        path,
        bodyDigest: digest,
        isRevoked: (sessionId) => revocations.isRevoked(sessionId),
        ...(options.internalRequestMaxTtlSeconds ? { maxTtlSeconds: options.internalRequestMaxTtlSeconds } : {}),
      });
    const schema = buildSubgraphSchema({ typeDefs: def.typeDefs, resolvers: def.resolvers as GraphQLResolverMap<unknown> });
    const app = express();
    app.disable('x-powered-by');
    const httpServer = http.createServer(app);
    httpServer.keepAliveTimeout = 65_000; // longer than the gateway's idle socket timeout
    let ready = false;
    const apollo = new ApolloServer<C>({
      schema,
      csrfPrevention: true,
      includeStacktraceInErrorResponses: nodeEnv === 'development',
      // A limit refusal keeps the code naming its limit (MAX_DEPTH_LIMIT, ...), as at the gateway.
      formatError: (formatted, error) => maskError(withLimitCode(formatted, error, limits), error, logger),
      // The gateway's limits, again (see http/query-limits.ts), and bounds on execution time and answer size.
      parseOptions: { maxTokens: limits.maxTokens },
      validationRules: protection.rules,
      plugins: [
        ApolloServerPluginDrainHttpServer({ httpServer }),
        ApolloServerPluginInlineTraceDisabled(),
        useGraphqlMetrics(def.name) as never,
        ...(protection.plugins as never[]),
        useExecutionBounds(limits) as never,
      ],
      // Shutdown is ours (onShutdown -> stop()): Apollo's own SIGTERM handler would stop the server
      // and re-send the signal, which ends the process before the drain (exit 1, consumers not closed).
      stopOnTerminationSignals: false,
    });
    await apollo.start();
    mountOperationalRoutes(app, def.name, async () => ready && revocationsReplayed && (await dataSourceHealthy(dataSource)) && (await options.bus.isReady()), { logger });
    def.routes?.(app, parts, { verify: checkRequest });
    const digests = new WeakMap<object, string>();
    const verified = new WeakMap<object, VerifiedRequest>();
    const EMPTY_DIGEST = bodyDigest('');
    // Only the gateway may call, ahead of everything else: a request without its signature is refused
    // before its body is read; the signature itself (minted for this service and this request, body
    // included) is checked once the body is in.
    const signaturePresent: express.RequestHandler = (req, res, next) => {
      if (req.headers[GATEWAY_SIGNATURE_HEADER]) return next();
      sendGraphqlError(res, req.headers.accept, 'UNAUTHENTICATED', 'This service answers only requests signed by the gateway.');
    };
    const signatureValid: express.RequestHandler = (req, res, next) => {
      try {
        verified.set(req, checkRequest(req.headers, req.method, req.originalUrl, digests.get(req) ?? EMPTY_DIGEST));
        next();
      } catch (error) {
        sendGraphqlError(res, req.headers.accept, 'UNAUTHENTICATED', error instanceof Error ? error.message : 'Unauthenticated');
      }
    };
    app.use(
      '/graphql',
      signaturePresent,
      ...graphqlBody({ limitBytes: limits.maxBodyBytes, onBody: (req, body) => digests.set(req, bodyDigest(body)) }),
      signatureValid,
      expressMiddleware(apollo, {
        context: async ({ req }) => {
          const request = verified.get(req) ?? { identity: null, clientAddress: null };
          return contextOf({ identity: request.identity, deps, clientAddress: request.clientAddress ?? req.socket.remoteAddress ?? 'unknown' });
        },
      }),
    );
    app.use(jsonErrorHandler(logger));
    const live = def.live
      ? serveSubscriptions(httpServer, schema, { deps, verify: (headers, path, request) => checkRequest(headers, request?.method ?? 'GET', path, request?.digest ?? EMPTY_DIGEST), context: contextOf, handlers: def.live(parts), validationRules: protection.rules, maxTokens: limits.maxTokens })
      : undefined;
    await new Promise<void>((resolve, reject) => {
      httpServer.once('error', reject);
      httpServer.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
    });
    const port = (httpServer.address() as AddressInfo).port;
    cleanups.push(async () => {
      ready = false;
      await live?.dispose();
      // Stops accepting, drains in-flight requests (DrainHttpServer), then closes idle sockets.
      await withTimeout(apollo.stop(), options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS);
      httpServer.closeAllConnections();
    });
    if (def.background) {
      const jobs = def.background(parts, deps);
      cleanups.push(async () => void (await Promise.all(jobs.map((j) => j.stop()))));
    }
    ready = true;
    const url = `http://127.0.0.1:${port}/graphql`;
    logger.info({ url, bus: options.bus.kind }, 'subgraph ready');
    let stopping: Promise<void> | undefined;
    return {
      name: def.name,
      url,
      port,
      deps,
      parts,
      stop: () => (stopping ??= stopAll().then(() => logger.info('subgraph stopped'))),
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

async function dataSourceHealthy(ds: DataSource): Promise<boolean> {
  try {
    await ds.query('SELECT 1');
    return true;
  } catch {
    return false;
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return Promise.race([p, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), ms).unref())]);
}
