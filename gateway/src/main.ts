/** Runs the gateway alone (Kubernetes). Every setting comes from the environment (see config.ts). */
import { createLogger, loadConfig, onShutdown } from '@shop/platform';
import { jwtVerifier } from './auth';
import { gatewayEnv } from './config';
import { startGateway } from './gateway';

async function main(): Promise<void> {
  const logger = createLogger('gateway');
  let cfg;
  try {
    cfg = loadConfig(gatewayEnv);
  } catch (error) {
    process.stderr.write(`gateway: ${(error as Error).message}\n`);
    process.exit(1);
  }
  const gateway = await startGateway({
    port: cfg.PORT,
    host: process.env['HOST'] ?? '0.0.0.0',
    subgraphUrls: { users: cfg.USERS_URL, catalog: cfg.CATALOG_URL, inventory: cfg.INVENTORY_URL, orders: cfg.ORDERS_URL },
    internalAuthSecret: cfg.INTERNAL_AUTH_SECRET,
    verifier: jwtVerifier(cfg.JWT_SECRET),
    pollSubgraphs: cfg.GATEWAY_POLL_SUBGRAPHS,
    nodeEnv: cfg.NODE_ENV,
    drainTimeoutMs: cfg.DRAIN_TIMEOUT_MS,
    logger,
  });
  onShutdown(logger, () => gateway.stop());
}

void main();
