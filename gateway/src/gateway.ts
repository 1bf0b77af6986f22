import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { ApolloGateway, IntrospectAndCompose } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { expressMiddleware } from '@as-integrations/express5';
import type { RequestHandler } from 'express';
import express from 'express';
import { forwardPaymentWebhooks, PAYMENT_WEBHOOK_PATH } from './payment-webhook-proxy';
import { Redis } from 'ioredis';
import proxyAddr from 'proxy-addr';
import type { EventBus, Identity, Logger, QueryLimits, SessionDenyList } from '@shop/platform';
import { collectProcessMetrics, createLogger, DEFAULT_DRAIN_TIMEOUT_MS, DEFAULT_QUERY_LIMITS, graphqlBody, initTracingFromEnv, jsonErrorHandler, mountOperationalRoutes, queryLimitRules, useGraphqlMetrics } from '@shop/platform';
import type { AccessTokenVerifier } from './auth';
import { bearerToken } from './auth';
import { readPrebuiltBundle } from './graphiql/bundle';
import { createGraphiqlHandler } from './graphiql/graphiql';
import type { SessionRevocations } from './revocations';
import type { GatewayContext } from './subgraph-data-source';
import { SubgraphDataSource } from './subgraph-data-source';
import { measuredQueryPlanCache } from './query-plan-cache';
import { answerUnavailableAs503, formatForClient, refuseSubscriptionsOverPlainHttp, requireResolvedOperation } from './http-answers.plugin';
import type { PersistedOperationSettings } from './persisted-operations';
import { PersistedOperations } from './persisted-operations';
import { admitPersistedOperations, resolvePersistedOperations } from './persisted-operations.plugin';
import type { RateLimitSettings } from './rate-limits';
import { RateLimits, watchStore } from './rate-limits';
import { chargeRequest, rateLimitOperations, rateLimitRequests } from './rate-limit.plugin';
import type { CoalescingSettings } from './coalescing';
import { coalescingGateway } from './coalescing';
import type { GatewayExecutorKind } from './execution/own-executor';
import { defaultGatewayExecutor, executingGateway } from './execution/own-executor';
import { isGatewayWorker } from './cluster';
import { CacheHints } from './cache/cache-hints';
import { followInvalidations } from './cache/cache-invalidations';
import { DEFAULT_REDIS_KEY_PREFIX, MemoryCacheStore, RedisCacheStore } from './cache/cache-store';
import type { EntityCacheSettings } from './cache/entity-cache';
import { EntityCache } from './cache/entity-cache';
import { StaleAnswers } from './cache/stale-answers';
import { answerCachedResponses, cacheResponses } from './cache/response-cache.plugin';
import { CachedAnswerLane } from './cache/response-cache-http';

/** How long a starting gateway waits for Redis before it serves with in-memory budgets. */
const REDIS_CONNECT_WAIT_MS = 5_000;

export const SUPERGRAPH_FILE = path.resolve(__dirname, '../../schema/supergraph.graphql');

export interface GatewaySettings {
  /** Default 4000; 0 picks a free port. */
  readonly port: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Subgraph URL overrides by name (default: the routing URLs in the supergraph). */
  readonly subgraphUrls?: Readonly<Record<string, string>>;
  readonly internalAuthSecret: string;
  /** Lifetime of the signature of each subgraph request. Default 10 s. */
  readonly internalRequestTtlSeconds?: number;
  readonly verifier: AccessTokenVerifier;
  /** Supergraph SDL file. Default schema/supergraph.graphql. */
  readonly supergraphFile?: string;
  /** Opt-in development mode: compose from the running subgraphs, polling every 10 s. */
  readonly pollSubgraphs?: boolean;
  readonly logger?: Logger;
  readonly nodeEnv?: 'development' | 'production' | 'test';
  /**
   * Attaches more protocol handlers to the HTTP server (the subscription server: graphql-ws on the
   * upgrade, and `http`, SSE and multipart on POST/GET /graphql before the query path).
   */
  readonly attach?: (server: http.Server, gateway: ApolloGateway, ctx: AttachedContext) => { dispose(): Promise<void>; readonly http?: RequestHandler };
  /** Query limits (depth, aliases, directives, tokens, cost), the same for every transport. Default {@link DEFAULT_QUERY_LIMITS}. */
  readonly limits?: Partial<QueryLimits>;
  /** Time to drain in-flight requests on stop. Default 10 s. */
  readonly drainTimeoutMs?: number;
  /** The deny list the verifier consults; with `bus`, it follows users' session events (see revocations.ts). */
  readonly revocations?: SessionRevocations;
  /** The event bus the revocation list follows. */
  readonly bus?: EventBus;
  /**
   * Names this process's revocation consumer group. Default random, and it should stay so: a group
   * reused after a restart would resume from its committed offset and skip the replay.
   */
  readonly instanceId?: string;
  /** Express `trust proxy` (e.g. 1 behind one load balancer): which X-Forwarded-For hop is the client. Default false (the socket peer). */
  readonly trustProxy?: boolean | number | string;
  /** Rate budgets per caller (see rate-limits.ts for each default). Default: on, with those defaults. */
  readonly rateLimits?: RateLimitSettings;
  /**
   * redis:// URL of the store that the rate budgets of every replica share. Default none: counters
   * in this process (what `npm start` needs); with several replicas, set it.
   */
  readonly redisUrl?: string;
  /**
   * Prefix of every key the gateway keeps in Redis (cache entries and marks, rate budgets): the
   * deployment's, so that two shops (or staging and production) sharing one Redis never see each
   * other's keys. Default {@link DEFAULT_REDIS_KEY_PREFIX} (`shop:`). `rateLimits.keyPrefix`, when
   * set, replaces the budgets' whole prefix.
   */
  readonly redisKeyPrefix?: string;
  /** The safelist of persisted operations (see persisted-operations.ts). Default mode 'off'. */
  readonly persistedOperations?: PersistedOperationSettings;
  /** Identical concurrent anonymous queries share one execution (coalescing.ts). Default on. */
  readonly coalescing?: CoalescingSettings;
  /** Executor of the query plans: `apollo` or `own` (execution/own-executor.ts). Default the environment's GATEWAY_EXECUTOR, else `own`. */
  readonly executor?: GatewayExecutorKind;
  /** Answers GET /metrics instead of this process's registry (a cluster worker: every worker's sum, cluster.ts). */
  readonly metricsHandler?: RequestHandler;
  /**
   * The entity cache and stale-if-error (cache/entity-cache.ts; each default there). Its store is
   * Redis when `redisUrl` is set, else this process. Fresh answers need `bus` (the invalidations).
   */
  readonly cache?: EntityCacheSettings;
  /** Longest wait for a subgraph's answer, ms. Default none (the connection's own limits). */
  readonly subgraphTimeoutMs?: number;
  /**
   * A directory holding GraphiQL's prebuilt bundle (GRAPHIQL_BUNDLE_DIR; graphiql/bundle.main.ts
   * writes one, the image has one): served as it is, and start fails when it holds no complete
   * bundle of these sources. Default none: built at run time (graphiql/bundle.ts).
   */
  readonly graphiqlBundleDir?: string;
}

/** What the `attach` hook gets: the gateway's logger, verifier, limits, budgets, safelist and how it tells a client's address. */
export interface AttachedContext {
  readonly logger: Logger;
  readonly verifier: AccessTokenVerifier;
  readonly limits: QueryLimits;
  /** Production mode: no field suggestions in validation errors. */
  readonly production: boolean;
  readonly rateLimits: RateLimits;
  readonly persistedOperations: PersistedOperations;
  /** The client's address of a request (X-Forwarded-For only as far as `trustProxy` says), as for HTTP. */
  readonly clientAddress: (req: http.IncomingMessage) => string | undefined;
  /** The gateway's deny list: a revoked session's subscriptions end the moment it lands there. */
  readonly revocations?: SessionDenyList;
}

export interface RunningGateway {
  readonly url: string;
  readonly port: number;
  readonly gateway: ApolloGateway;
  stop(): Promise<void>;
}

/** Starts the federation gateway: one GraphQL endpoint over every subgraph, with GraphiQL at GET /graphql. */
export async function startGateway(settings: GatewaySettings): Promise<RunningGateway> {
  const logger = settings.logger ?? createLogger('gateway');
  // Read and checked before anything else starts, so that a wrong directory stops the gateway at once.
  const graphiqlBundle = settings.graphiqlBundleDir === undefined ? undefined : await readPrebuiltBundle(settings.graphiqlBundleDir);
  collectProcessMetrics();
  initTracingFromEnv('gateway');
  // @apollo/gateway reports usage metrics to Apollo's servers (and probes cloud metadata endpoints
  // to label them) unless this is set. A shop's gateway sends nothing anywhere it was not told to.
  process.env['APOLLO_TELEMETRY_DISABLED'] ??= 'true';
  const gateway = new ApolloGateway({
    ...(settings.pollSubgraphs
      ? {
          supergraphSdl: new IntrospectAndCompose({
            subgraphs: Object.entries(settings.subgraphUrls ?? {}).map(([name, url]) => ({ name, url })),
            pollIntervalInMs: 10_000,
          }),
        }
      : { supergraphSdl: readFileSync(settings.supergraphFile ?? SUPERGRAPH_FILE, 'utf8') }),
    buildService: ({ name, url }) =>
      new SubgraphDataSource(name, settings.subgraphUrls?.[name] ?? url ?? '', {
        internalSecret: settings.internalAuthSecret,
        ...(settings.internalRequestTtlSeconds ? { ttlSeconds: settings.internalRequestTtlSeconds } : {}),
        ...(settings.subgraphTimeoutMs ? { timeoutMs: settings.subgraphTimeoutMs } : {}),
      }, cache),
    // The plan cache, measured (hits, misses, planning time): see query-plan-cache.ts.
    // The fetch nodes keep their parsed operation: the entity cache reads its hints from it (cache/entity-cache.ts).
    queryPlannerConfig: { cache: measuredQueryPlanCache(), exposeDocumentNodeInFetchNode: true },
    logger: { debug: () => undefined, info: (m) => logger.info(String(m)), warn: (m) => logger.warn(String(m)), error: (m) => logger.error(String(m)) },
  });

  const app = express();
  app.disable('x-powered-by');
  if (settings.trustProxy !== undefined) app.set('trust proxy', settings.trustProxy);
  // The client address exactly as Express computes req.ip (its compiled `trust proxy`), for requests
  // that never pass through Express (WebSocket upgrades).
  const clientAddress = (req: http.IncomingMessage): string | undefined => (req.socket.remoteAddress === undefined ? undefined : proxyAddr(req, app.get('trust proxy fn') as (addr: string, i: number) => boolean));
  const persisted = PersistedOperations.load(settings.persistedOperations);
  // Budgets shared by every replica through Redis when configured; ioredis reconnects by itself,
  // and while it is away the limiter counts in memory (see rate-limits.ts).
  const redis = settings.redisUrl ? new Redis(settings.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectionName: 'gateway-rate-limits' }) : undefined;
  if (redis) {
    watchStore(redis, logger);
    // Serve with shared counters from the first request when Redis is there; when it is not, start
    // anyway (budgets per replica until it comes back) rather than refusing to start.
    const connected = await Promise.race([once(redis, 'ready').then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), REDIS_CONNECT_WAIT_MS).unref())]);
    if (!connected) logger.warn({ waitedMs: REDIS_CONNECT_WAIT_MS }, 'Redis is not reachable: rate budgets are counted per replica until it is');
  }
  // In a gateway cluster without Redis, the workers share the primary's counters (cluster.ts).
  const redisKeyPrefix = settings.redisKeyPrefix ?? DEFAULT_REDIS_KEY_PREFIX;
  const rateLimits = RateLimits.create({ ...settings.rateLimits, keyPrefix: settings.rateLimits?.keyPrefix ?? `${redisKeyPrefix}gateway:rl` }, redis, { cluster: isGatewayWorker() });
  // The entity cache (shared through the same Redis when configured) and its stale answers.
  const staleAnswers = new StaleAnswers();
  const cache = new EntityCache(redis ? new RedisCacheStore(redis, redisKeyPrefix) : new MemoryCacheStore(settings.cache?.maxEntries), staleAnswers, settings.cache, logger);
  gateway.onSchemaLoadOrUpdate(({ coreSupergraphSdl }) => cache.useHints(CacheHints.fromSupergraph(coreSupergraphSdl)));
  const invalidationFeed = settings.bus ? await followInvalidations(cache, { bus: settings.bus, logger, ...(settings.instanceId ? { instanceId: settings.instanceId } : {}) }) : undefined;
  // One token verification per request, shared by the rate limiter and the GraphQL context.
  const identities = new WeakMap<http.IncomingMessage, Promise<Identity | null>>();
  const identify = (req: http.IncomingMessage): Promise<Identity | null> => {
    let identity = identities.get(req);
    if (!identity) {
      identity = (async () => {
        const token = bearerToken(req.headers.authorization);
        return token ? settings.verifier.verify(token) : null;
      })();
      identities.set(req, identity);
    }
    return identity;
  };
  // Cached answers of repeated POSTs, before Express (cache/response-cache-http.ts).
  const address = (req: http.IncomingMessage): string | undefined => (settings.trustProxy === undefined ? req.socket.remoteAddress : clientAddress(req));
  const lane = new CachedAnswerLane({ cache, identify, charge: (req) => chargeRequest(rateLimits, identify, address(req), req), logger });
  const httpServer = http.createServer(lane.listener(app));
  httpServer.keepAliveTimeout = 65_000;
  // Revoked sessions: replay users' session events before reporting ready.
  const revocationFeed = settings.revocations && settings.bus ? await settings.revocations.follow({ bus: settings.bus, logger, ...(settings.instanceId ? { instanceId: settings.instanceId } : {}) }) : undefined;
  let revocationsReplayed = !revocationFeed;
  void revocationFeed?.replayed.then(() => (revocationsReplayed = true));
  // Query limits against abusive operations: depth, aliases, directives, tokens, cost; each refusal
  // answers 400 with the code of its limit. The same configuration holds at every subgraph
  // (platform http/query-limits.ts).
  const limits: QueryLimits = { ...DEFAULT_QUERY_LIMITS, ...settings.limits };
  const production = settings.nodeEnv === 'production';
  const protection = queryLimitRules(limits, { blockFieldSuggestion: production });
  const apollo = new ApolloServer<GatewayContext>({
    allowBatchedHttpRequests: false,
    gateway: coalescingGateway(executingGateway(gateway, settings.executor ?? defaultGatewayExecutor()), settings.coalescing),
    csrfPrevention: true,
    introspection: true,
    includeStacktraceInErrorResponses: false,
    parseOptions: { maxTokens: limits.maxTokens },
    formatError: formatForClient(limits, logger),
    plugins: [
      ...protection.plugins,
      ApolloServerPluginDrainHttpServer({ httpServer }),
      useGraphqlMetrics('gateway') as never,
      requireResolvedOperation(),
      refuseSubscriptionsOverPlainHttp(),
      admitPersistedOperations(persisted),
      rateLimitOperations(rateLimits),
      answerUnavailableAs503(),
      staleAnswers.plugin(),
      cacheResponses(cache),
      ...(settings.revocations ? [settings.revocations.plugin()] : []),
    ],
    validationRules: protection.rules,
    // Shutdown is ours (main.ts onShutdown -> stop()): Apollo's own SIGTERM handler would stop the
    // server and re-send the signal, which ends the process before the drain (exit 1).
    stopOnTerminationSignals: false,
  });
  await apollo.start();
  let ready = false;
  const graphiql = createGraphiqlHandler({ endpointPath: '/graphql', logger, prepare: production, ...(graphiqlBundle ? { bundle: graphiqlBundle } : {}) });
  app.use((req, res, next) => (graphiql(req, res) ? undefined : next()));
  if (settings.metricsHandler) app.get('/metrics', settings.metricsHandler);
  mountOperationalRoutes(app, 'gateway', async () => ready && revocationsReplayed, { logger });
  // The payment provider's webhooks, forwarded as they are to orders (issue 19).
  app.post(PAYMENT_WEBHOOK_PATH, ...forwardPaymentWebhooks(settings.subgraphUrls?.['orders'], logger));
  // Before the query path: the attached server answers subscriptions over SSE and multipart itself.
  const attached = settings.attach?.(httpServer, gateway, { logger, verifier: settings.verifier, limits, production, rateLimits, persistedOperations: persisted, clientAddress, ...(settings.revocations ? { revocations: settings.revocations } : {}) });
  app.use(
    '/graphql',
    ...graphqlBody({ limitBytes: limits.maxBodyBytes, onBody: lane.keepBody }),
    // SSE and multipart subscriptions are answered here, charged once by the subscription guards.
    ...(attached?.http ? [attached.http] : []),
    rateLimitRequests(rateLimits, identify, (req) => req.ip ?? req.socket.remoteAddress),
    resolvePersistedOperations(persisted),
    // Fresh whole answers of public operations, from their stored JSON text (cache/response-cache.plugin.ts).
    answerCachedResponses(cache, identify, lane),
    expressMiddleware(apollo, {
      context: async ({ req }) => {
        const identity = await identify(req);
        // The client's address as this gateway sees it (never a client-sent header unless trustProxy says so), signed to subgraphs.
        return { identity, authorization: req.headers.authorization, clientAddress: req.ip ?? req.socket.remoteAddress };
      },
    }),
  );
  app.use(jsonErrorHandler(logger));
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(settings.port, settings.host ?? '127.0.0.1', () => resolve());
  });
  ready = true;
  const port = (httpServer.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}/graphql`;
  logger.info({ url, rateLimitStore: redis ? 'redis' : 'memory', cacheStore: cache.store.kind, cacheServing: cache.serving, persistedOperations: persisted.mode, listed: persisted.size }, 'gateway ready');
  let stopping: Promise<void> | undefined;
  return {
    url,
    port,
    gateway,
    stop: () =>
      (stopping ??= (async () => {
        ready = false;
        await attached?.dispose();
        await Promise.race([apollo.stop(), new Promise((r) => setTimeout(r, settings.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS).unref())]);
        httpServer.closeAllConnections();
        await revocationFeed?.stop();
        await invalidationFeed?.stop();
        redis?.disconnect();
        logger.info('gateway stopped');
      })()),
  };
}
