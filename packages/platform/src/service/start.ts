import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { expressMiddleware } from '@as-integrations/express5';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/resolverMap';
import express from 'express';
import { GraphQLError } from 'graphql';
import type { DataSource } from 'typeorm';
import type { SettingsShape } from '../config';
import { parseSettings } from '../config';
import { installAfterCommitHooks } from '../db/after-commit';
import { createDataSource, instrumentDataSource, runMigrationsLocked } from '../db/data-source';
import { PlatformOutboxInbox1700000000000 } from '../db/platform.migration';
import { maskError } from '../errors';
import type { Consumer } from '../events/bus';
import { startEventConsumers, startLiveListener } from '../events/consumers';
import { Outbox, OutboxRelay } from '../events/outbox';
import type { Identity } from '../identity';
import { verifyClientAddress, verifyIdentity } from '../identity';
import { serveSubscriptions } from '../live/serve';
import { createLogger } from '../logger';
import { collectProcessMetrics, histogram } from '../metrics';
import { initTracingFromEnv } from '../tracing';
import { graphqlBody, jsonErrorHandler } from '../http/graphql-body';
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
  const dataSource = createDataSource({
    url: options.databaseUrl,
    name: def.name,
    entities: def.entities,
    migrations: [PlatformOutboxInbox1700000000000, ...def.migrations],
  });
  await dataSource.initialize();
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
      listen: async (handlers) => {
        // A group per call (a second call must not share the first one's partitions), tracked
        // while it joins so that a stop during the join still stops it.
        const groupId = `${def.name}.live.${instanceId}${pendingListens.length ? `-${pendingListens.length}` : ''}`;
        const joining = startLiveListener({ bus: options.bus, groupId, handlers, logger }).then((consumer) => void liveConsumers.push(consumer));
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
      formatError: (formatted, error) => maskError(formatted, error, logger),
      plugins: [ApolloServerPluginDrainHttpServer({ httpServer }), ApolloServerPluginInlineTraceDisabled(), useGraphqlMetrics(def.name) as never],
      // Shutdown is ours (onShutdown -> stop()): Apollo's own SIGTERM handler would stop the server
      // and re-send the signal, which ends the process before the drain (exit 1, consumers not closed).
      stopOnTerminationSignals: false,
    });
    await apollo.start();
    mountOperationalRoutes(app, def.name, async () => ready && (await dataSourceHealthy(dataSource)) && (await options.bus.isReady()));
    def.routes?.(app, parts);
    app.use(
      '/graphql',
      ...graphqlBody(),
      expressMiddleware(apollo, {
        context: async ({ req }) => {
          let identity: Identity | null;
          try {
            identity = verifyIdentity(req.headers, options.internalAuthSecret);
          } catch (error) {
            if (error instanceof GraphQLError) throw new GraphQLError(error.message, { extensions: { ...error.extensions, http: { status: 401 } } });
            throw error;
          }
          const clientAddress = verifyClientAddress(req.headers, options.internalAuthSecret) ?? req.socket.remoteAddress ?? 'unknown';
          return contextOf({ identity, deps, clientAddress });
        },
      }),
    );
    app.use(jsonErrorHandler(logger));
    const live = def.live ? serveSubscriptions(httpServer, schema, { deps, internalAuthSecret: options.internalAuthSecret, context: contextOf, handlers: def.live(parts) }) : undefined;
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
