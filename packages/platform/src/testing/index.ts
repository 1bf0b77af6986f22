import { randomBytes } from 'node:crypto';
import { Client, Pool } from 'pg';
import { withDatabase } from '../db/data-source';

/** The test cluster's admin URL (set by jest's globalSetup). */
export function testDatabaseUrl(): string {
  const url = process.env['TEST_DATABASE_URL'];
  if (!url) throw new Error('TEST_DATABASE_URL is not set: run the tests through `npm test` (jest globalSetup starts Postgres).');
  return url;
}

/** The real test broker (set by jest's globalSetup). Never optional: the Kafka path is always tested. */
export function testKafkaBrokers(): string[] {
  const brokers = process.env['TEST_KAFKA_BROKERS'];
  if (!brokers) throw new Error('TEST_KAFKA_BROKERS is not set: run the tests through `npm test` (jest globalSetup starts Kafka).');
  return brokers.split(',');
}

/** The real test redis-server (set by jest's globalSetup). Never optional: shared rate limits are always tested on Redis. */
export function testRedisUrl(): string {
  const url = process.env['TEST_REDIS_URL'];
  if (!url) throw new Error('TEST_REDIS_URL is not set: run the tests through `npm test` (jest globalSetup starts redis-server).');
  return url;
}

export interface TestDatabase {
  readonly url: string;
  readonly name: string;
  drop(): Promise<void>;
}

/** Creates a fresh, empty database for one test file; `drop()` removes it. */
export async function createTestDatabase(prefix = 'db'): Promise<TestDatabase> {
  const name = `t_${prefix.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: testDatabaseUrl() });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  return {
    name,
    url: withDatabase(testDatabaseUrl(), name),
    drop: async () => {
      const c = new Client({ connectionString: testDatabaseUrl() });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await c.end();
    },
  };
}

/** A pg pool on a fresh test database (for the in-process bus), with its cleanup. */
export async function createTestPool(prefix = 'bus'): Promise<{ pool: Pool; db: TestDatabase; close(): Promise<void> }> {
  const db = await createTestDatabase(prefix);
  const pool = new Pool({ connectionString: db.url, max: 10 });
  return { pool, db, close: async () => { await pool.end(); await db.drop(); } };
}

/** Polls `check` until it returns a truthy value or `timeoutMs` passes (then throws with the last value). */
export async function eventually<T>(check: () => Promise<T> | T, timeoutMs = 10_000, intervalMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      last = await check();
      if (last) return last as NonNullable<T>;
    } catch (error) {
      lastError = error;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(last)}${lastError ? `; last error: ${String(lastError)}` : ''}`);
}

/** A unique topic/group suffix so test cases never see each other's messages. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}
export type { KafkaBrokerHandle, KafkaBrokerOptions } from './kafka-broker';
export { startKafkaBroker } from './kafka-broker';
export { freePortBlock } from './ports';
export type { AuditFinding } from './http-audit';
export { auditGraphqlOverHttp } from './http-audit';
export type { HttpSubscription, HttpSubscriptionTransport } from './subscription-clients';
export { cursorOf, HTTP_SUBSCRIPTION_TRANSPORTS, MULTIPART_SUBSCRIPTION_ACCEPT, resumeAfter, subscribeOverHttp } from './subscription-clients';
export type { RedisServerHandle, RedisServerOptions } from './redis-server';
export { startRedisServer } from './redis-server';
export type { CertificateFiles, LeafOptions } from './certificates';
export { TestCertificates } from './certificates';
export type { AsGatewayRequest } from './as-gateway';
export { gatewayRequest, postAsGateway, send } from './as-gateway';
