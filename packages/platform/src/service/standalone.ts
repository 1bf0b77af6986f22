import type { Pool } from 'pg';
import type { SettingsShape } from '../config';
import { configOrExit, env, loadConfig, parseSettings } from '../config';
import { createDataSource, initializeDataSource, runMigrationsLocked } from '../db/data-source';
import { PlatformOutboxInbox1700000000000 } from '../db/platform.migration';
import type { EventBus } from '../events/bus';
import { InProcessBus } from '../events/in-process-bus';
import { DEFAULT_INTERNAL_REQUEST_MAX_TTL_SECONDS } from '../internal-request';
import { DEFAULT_TOPIC_PARTITIONS, KafkaBus, kafkaNamespaceSetting } from '../events/kafka-bus';
import type { Logger } from '../logger';
import { createLogger } from '../logger';
import type { KafkaSecurity } from '../tls';
import { assertNoTlsInUrl, kafkaSecurity, kafkaSecuritySettings, postgresTls, postgresTlsSettings } from '../tls';
import type { RequestContext, ServiceDefinition } from './definition';
import { DEFAULT_DRAIN_TIMEOUT_MS } from './definition';
import { startService } from './start';

/** Creates the Kafka adapter for `brokers`, or the durable in-process adapter on `pool`. */
export function createEventBus(options: { brokers?: readonly string[] | undefined; pool?: Pool; logger: Logger; clientId?: string; partitions?: number; replicationFactor?: number; namespace?: string | undefined; security?: KafkaSecurity | undefined; retentionMs?: number }): EventBus {
  if (options.brokers?.length) {
    return new KafkaBus({
      brokers: options.brokers,
      security: options.security,
      logger: options.logger,
      ...(options.clientId ? { clientId: options.clientId } : {}),
      ...(options.partitions ? { partitions: options.partitions } : {}),
      ...(options.replicationFactor ? { replicationFactor: options.replicationFactor } : {}),
      ...(options.namespace ? { namespace: options.namespace } : {}),
    });
  }
  if (!options.pool) throw new Error('The in-process event bus needs a Postgres pool');
  return new InProcessBus({ pool: options.pool, logger: options.logger, ...(options.retentionMs ? { retentionMs: options.retentionMs } : {}) });
}

/** The platform's settings of every standalone service, from its environment. */
export const standaloneEnv = {
  NODE_ENV: env.nodeEnv(),
  /** Interface to bind. Default 127.0.0.1: a subgraph is for the gateway only; Kubernetes sets 0.0.0.0 (k8s/base/subgraph-common.env). */
  HOST: env.string('127.0.0.1'),
  DATABASE_URL: env.postgresUrl(),
  KAFKA_BROKERS: env.brokers(),
  KAFKA_TOPIC_PARTITIONS: env.int(DEFAULT_TOPIC_PARTITIONS, 1),
  KAFKA_REPLICATION_FACTOR: env.int(3, 1),
  KAFKA_NAMESPACE: kafkaNamespaceSetting,
  INTERNAL_AUTH_SECRET: env.secret(32),
  /** Longest lifetime of a gateway request signature accepted, in seconds. Default 60 (the gateway mints 10). */
  INTERNAL_REQUEST_MAX_TTL_SECONDS: env.int(DEFAULT_INTERNAL_REQUEST_MAX_TTL_SECONDS, 1),
  RUN_MIGRATIONS: env.bool(true),
  SEED_DEMO_DATA: env.bool(false),
  DRAIN_TIMEOUT_MS: env.int(DEFAULT_DRAIN_TIMEOUT_MS),
  ...postgresTlsSettings.shape,
  ...kafkaSecuritySettings.shape,
};

/**
 * Runs one service alone (one process per service, as in Kubernetes) with a real Postgres and Kafka:
 * `src/main.ts` serves; `src/main.ts migrate` applies migrations and exits (the migration Job).
 * A bad setting, the platform's or the service's own, exits with one line naming it. SIGTERM/SIGINT
 * drain and stop.
 */
export async function runStandalone<S extends SettingsShape, P, C extends RequestContext>(def: ServiceDefinition<S, P, C>): Promise<void> {
  const logger = createLogger(def.name);
  const { cfg, databaseTls, kafka } = configOrExit(def.name, () => {
    const platform = loadConfig({ ...standaloneEnv, PORT: env.port(def.defaultPort) });
    assertNoTlsInUrl('DATABASE_URL', platform.DATABASE_URL);
    // Checked here too, so that a bad setting of the service stops it before it connects anywhere.
    if (!process.argv.includes('migrate')) parseSettings(def.settings, {}, platform.NODE_ENV);
    // TLS files are read (and checked: readable, a key that is its certificate's) before anything connects.
    return { cfg: platform, databaseTls: postgresTls(platform), kafka: kafkaSecurity(platform) };
  });
  try {
    if (process.argv.includes('migrate')) {
      const ds = createDataSource({ url: cfg.DATABASE_URL, ssl: databaseTls, name: `${def.name}-migrate`, entities: def.entities, migrations: [PlatformOutboxInbox1700000000000, ...def.migrations] });
      await initializeDataSource(ds, cfg.DATABASE_URL);
      const applied = await runMigrationsLocked(ds);
      logger.info({ migrations: applied }, 'migrations applied');
      await ds.destroy();
      return;
    }
    const bus = createEventBus({ brokers: cfg.KAFKA_BROKERS, logger, clientId: def.name, partitions: cfg.KAFKA_TOPIC_PARTITIONS, replicationFactor: cfg.KAFKA_REPLICATION_FACTOR, namespace: cfg.KAFKA_NAMESPACE, security: kafka });
    const service = await startService(def, {
      port: cfg.PORT,
      host: cfg.HOST,
      databaseUrl: cfg.DATABASE_URL,
      databaseTls,
      bus,
      internalAuthSecret: cfg.INTERNAL_AUTH_SECRET,
      internalRequestMaxTtlSeconds: cfg.INTERNAL_REQUEST_MAX_TTL_SECONDS,
      runMigrations: cfg.RUN_MIGRATIONS,
      seed: cfg.SEED_DEMO_DATA,
      nodeEnv: cfg.NODE_ENV,
      drainTimeoutMs: cfg.DRAIN_TIMEOUT_MS,
      logger,
    });
    onShutdown(logger, async () => {
      await service.stop();
      await bus.close();
    });
  } catch (error) {
    // The reason is the message itself (an untrusted certificate, refused credentials…): the line an operator reads.
    logger.fatal({ err: error }, `start-up failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}

/**
 * Runs `stop` once on SIGTERM or SIGINT, then exits. A second signal more than a second later
 * (a user pressing Ctrl-C again) exits at once; one within the second is the same Ctrl-C delivered
 * twice (by the terminal to the whole process group and again by `npm start`), and is ignored.
 */
export function onShutdown(logger: Logger, stop: () => Promise<void>): void {
  let firstAt: number | undefined;
  const handler = (signal: NodeJS.Signals): void => {
    if (firstAt !== undefined) {
      if (Date.now() - firstAt < 1_000) return;
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    firstAt = Date.now();
    logger.info({ signal }, 'shutting down');
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}
