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
import type { EventBus, Logger, QueryLimits, SessionDenyList } from '@shop/platform';
import { collectProcessMetrics, createLogger, DEFAULT_DRAIN_TIMEOUT_MS, DEFAULT_QUERY_LIMITS, graphqlBody, initTracingFromEnv, jsonErrorHandler, mountOperationalRoutes, queryLimitRules, useGraphqlMetrics } from '@shop/platform';
import type { AccessTokenVerifier } from './auth';
import { bearerToken } from './auth';
import { createGraphiqlHandler } from './graphiql/graphiql';
import type { SessionRevocations } from './revocations';
import type { GatewayContext } from './subgraph-data-source';
import { SubgraphDataSource } from './subgraph-data-source';
import { measuredQueryPlanCache } from './query-plan-cache';
import { answerUnavailableAs503, formatForClient, refuseSubscriptionsOverPlainHttp, requireResolvedOperation } from './http-answers.plugin';

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
}

/** What the `attach` hook gets from the gateway. */
export interface AttachedContext {
  readonly logger: Logger;
  readonly verifier: AccessTokenVerifier;
  readonly limits: QueryLimits;
  /** Production mode: no field suggestions in validation errors. */
  readonly production: boolean;
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
      }),
    // The plan cache, measured (hits, misses, planning time): see query-plan-cache.ts.
    queryPlannerConfig: { cache: measuredQueryPlanCache() },
    logger: { debug: () => undefined, info: (m) => logger.info(String(m)), warn: (m) => logger.warn(String(m)), error: (m) => logger.error(String(m)) },
  });

  const app = express();
  app.disable('x-powered-by');
  if (settings.trustProxy !== undefined) app.set('trust proxy', settings.trustProxy);
  const httpServer = http.createServer(app);
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
    gateway,
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
      answerUnavailableAs503(),
      ...(settings.revocations ? [settings.revocations.plugin()] : []),
    ],
    validationRules: protection.rules,
    // Shutdown is ours (main.ts onShutdown -> stop()): Apollo's own SIGTERM handler would stop the
    // server and re-send the signal, which ends the process before the drain (exit 1).
    stopOnTerminationSignals: false,
  });
  await apollo.start();
  let ready = false;
  const graphiql = createGraphiqlHandler({ endpointPath: '/graphql' });
  app.use((req, res, next) => (graphiql(req, res) ? undefined : next()));
  mountOperationalRoutes(app, 'gateway', async () => ready && revocationsReplayed);
  // Before the query path: the attached server answers subscriptions over SSE and multipart itself.
  const attached = settings.attach?.(httpServer, gateway, { logger, verifier: settings.verifier, limits, production, ...(settings.revocations ? { revocations: settings.revocations } : {}) });
  app.use(
    '/graphql',
    ...graphqlBody({ limitBytes: limits.maxBodyBytes }),
    ...(attached?.http ? [attached.http] : []),
    expressMiddleware(apollo, {
      context: async ({ req }) => {
        const token = bearerToken(req.headers.authorization);
        const identity = token ? await settings.verifier.verify(token) : null;
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
  logger.info({ url }, 'gateway ready');
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
        logger.info('gateway stopped');
      })()),
  };
}
