/**
 * Starts the real infrastructure the test suite needs: an embedded Postgres cluster, a real
 * single-node Kafka broker and a real redis-server. Prints one JSON line
 * `{ databaseUrl, kafkaBrokers, redisUrl }` when all are up,
 * then runs until SIGTERM/SIGINT or until its parent (stdin) goes away. Used by jest's globalSetup.
 */
import path from 'node:path';
import { Client } from 'pg';
import { startEmbeddedPostgres } from '../db/embedded-postgres';
import { startKafkaBroker } from './kafka-broker';
import { startRedisServer } from './redis-server';

const root = path.resolve(__dirname, '../../../..');

async function main(): Promise<void> {
  const pgPort = Number(process.env['TEST_PG_PORT'] ?? 25430);
  const kafkaPort = Number(process.env['TEST_KAFKA_PORT'] ?? 19092);
  const redisPort = Number(process.env['TEST_REDIS_PORT'] ?? 16379);
  const [pg, kafka, redis] = await Promise.all([
    startEmbeddedPostgres({ dataDir: path.join(root, `.data/test-postgres-${pgPort}`), port: pgPort }),
    // A Kafka version chosen for this run (KAFKA_VERSION, e.g. the 3.9 floor) gets data of its own:
    // Kafka cannot read what a newer version wrote.
    startKafkaBroker({ port: kafkaPort, controllerPort: kafkaPort + 1, dataDir: path.join(root, `.data/test-kafka-${kafkaPort}${process.env['KAFKA_VERSION'] ? `-${process.env['KAFKA_VERSION']}` : ''}`) }),
    // Rate-limit counters shared between gateway instances; nothing persisted, a run starts empty.
    startRedisServer({ port: redisPort, dataDir: path.join(root, `.data/test-redis-${redisPort}`) }),
  ]);
  // Drop databases left behind by an interrupted earlier run.
  const admin = new Client({ connectionString: pg.url('postgres') });
  await admin.connect();
  const { rows } = await admin.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 't\\_%'");
  for (const r of rows) await admin.query(`DROP DATABASE IF EXISTS "${r.datname}" WITH (FORCE)`);
  await admin.end();

  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await Promise.allSettled([pg.stop(), kafka.stop(), redis.stop()]);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  process.stdin.on('end', () => void stop());
  process.stdin.resume();
  process.stdout.write(`${JSON.stringify({ databaseUrl: pg.url('postgres'), kafkaBrokers: kafka.brokers.join(','), redisUrl: redis.url })}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`test infrastructure failed to start: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
