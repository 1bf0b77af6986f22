/**
 * Runs the gateway alone (Kubernetes, or a machine of its own). Every setting comes from the
 * environment (see config.ts). With GATEWAY_WORKERS > 1 (default: one per core) this process is
 * the cluster's primary and forks that many workers running this file, each a whole gateway on the
 * same port (cluster.ts); with 1, the gateway runs in this process.
 */
import cluster from 'node:cluster';
import { configOrExit, createLogger, KafkaBus, kafkaSecurity, loadConfig, onShutdown } from '@shop/platform';
import { jwtVerifier } from './auth';
import { clusterMetricsHandler, isGatewayWorker, reportWorkerFailed, reportWorkerReady, shareWorkerMetrics, startGatewayCluster } from './cluster';
import { SessionRevocations } from './revocations';
import { edgeSettings, gatewayEnv } from './config';
import { startGateway } from './gateway';
import { attachSubscriptions } from './subscriptions';

async function main(): Promise<void> {
  const logger = createLogger('gateway');
  const { cfg, security } = configOrExit('gateway', () => {
    const settings = loadConfig(gatewayEnv);
    return { cfg: settings, security: kafkaSecurity(settings) };
  });
  if (cluster.isPrimary && cfg.GATEWAY_WORKERS > 1) {
    const starting = startGatewayCluster({ workers: cfg.GATEWAY_WORKERS, logger, stopTimeoutMs: cfg.DRAIN_TIMEOUT_MS + 5_000 });
    // A signal while the workers start also drains them (once started; a failed start stopped them already)
    // instead of killing the primary and leaving its workers to notice.
    onShutdown(logger, async () => (await starting.catch(() => undefined))?.stop());
    const workers = await starting;
    logger.info({ url: workers.url, workers: cfg.GATEWAY_WORKERS, pids: workers.pids() }, 'gateway cluster ready');
    return;
  }
  const worker = isGatewayWorker();
  if (worker) shareWorkerMetrics();
  // Each worker follows the session events itself (its own consumer group): see cluster.ts.
  const bus = new KafkaBus({ brokers: cfg.KAFKA_BROKERS, logger, clientId: 'gateway', security, ...(cfg.KAFKA_NAMESPACE ? { namespace: cfg.KAFKA_NAMESPACE } : {}) });
  const revocations = new SessionRevocations();
  const gateway = await startGateway({
    port: cfg.PORT,
    host: cfg.HOST,
    subgraphUrls: { users: cfg.USERS_URL, catalog: cfg.CATALOG_URL, inventory: cfg.INVENTORY_URL, orders: cfg.ORDERS_URL },
    internalAuthSecret: cfg.INTERNAL_AUTH_SECRET,
    internalRequestTtlSeconds: cfg.INTERNAL_REQUEST_TTL_SECONDS,
    verifier: jwtVerifier(cfg.JWT_SECRET, revocations, { maxLifetimeSeconds: cfg.JWT_MAX_LIFETIME_SECONDS, clockSkewSeconds: cfg.JWT_CLOCK_SKEW_SECONDS }),
    revocations,
    bus,
    ...(cfg.TRUST_PROXY_HOPS > 0 ? { trustProxy: cfg.TRUST_PROXY_HOPS } : {}),
    pollSubgraphs: cfg.GATEWAY_POLL_SUBGRAPHS,
    // Rate budgets (shared through REDIS_URL, else by the cluster's primary), the safelist of persisted operations, coalescing.
    ...edgeSettings(cfg),
    nodeEnv: cfg.NODE_ENV,
    drainTimeoutMs: cfg.DRAIN_TIMEOUT_MS,
    // GraphiQL's bundle built ahead of time (the image's), else built at run time.
    ...(cfg.GRAPHIQL_BUNDLE_DIR ? { graphiqlBundleDir: cfg.GRAPHIQL_BUNDLE_DIR } : {}),
    logger,
    // GraphQL subscriptions over graphql-ws on the same port and path.
    attach: attachSubscriptions({ internalAuthSecret: cfg.INTERNAL_AUTH_SECRET, internalRequestTtlSeconds: cfg.INTERNAL_REQUEST_TTL_SECONDS }),
    // One /metrics for the whole cluster: the sum over the workers.
    ...(worker ? { metricsHandler: clusterMetricsHandler() } : {}),
  });
  onShutdown(logger, async () => {
    await gateway.stop();
    await bus.close();
  });
  if (worker) {
    // The primary gone (killed): nothing accepts on the shared port any more; stop as on SIGTERM.
    process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
    reportWorkerReady(gateway.url);
  }
}

main().catch(async (error: unknown) => {
  // The reason is the message itself (an untrusted broker certificate, refused credentials…).
  const reason = error instanceof Error ? error.message : String(error);
  // A worker tells the primary, which says it once for the cluster (cluster.ts).
  if (isGatewayWorker() && process.connected) await reportWorkerFailed(reason);
  else createLogger('gateway').fatal({ err: error }, `start-up failed: ${reason}`);
  process.exit(1);
});
