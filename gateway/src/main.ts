/** Runs the gateway alone (Kubernetes). Every setting comes from the environment (see config.ts). */
import { configOrExit, createLogger, KafkaBus, kafkaSecurity, loadConfig, onShutdown } from '@shop/platform';
import { jwtVerifier } from './auth';
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
  const bus = new KafkaBus({ brokers: cfg.KAFKA_BROKERS, logger, clientId: 'gateway', security });
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
    // Rate budgets (shared through REDIS_URL), the safelist of persisted operations.
    ...edgeSettings(cfg),
    nodeEnv: cfg.NODE_ENV,
    drainTimeoutMs: cfg.DRAIN_TIMEOUT_MS,
    logger,
    // GraphQL subscriptions over graphql-ws on the same port and path.
    attach: attachSubscriptions({ internalAuthSecret: cfg.INTERNAL_AUTH_SECRET, internalRequestTtlSeconds: cfg.INTERNAL_REQUEST_TTL_SECONDS }),
  });
  onShutdown(logger, async () => {
    await gateway.stop();
    await bus.close();
  });
}

main().catch((error: unknown) => {
  // The reason is the message itself (an untrusted broker certificate, refused credentials…).
  createLogger('gateway').fatal({ err: error }, `start-up failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
