import { DataSource } from 'typeorm';
import type { EntitySchema, EntitySubscriberInterface, MigrationInterface } from 'typeorm';
import { Client } from 'pg';
import type { TlsClientOptions } from '../tls';
import { explainTlsFailure } from '../tls';
import { histogram, sourcedGauge } from '../metrics';
import { defineSettings, env } from '../config';

export interface DataSourceOptions {
  /** postgres:// URL of the service's own database. */
  readonly url: string;
  /** Application name shown in pg_stat_activity. */
  readonly name: string;
  readonly entities: ReadonlyArray<EntitySchema<any>>;
  readonly migrations: ReadonlyArray<new () => MigrationInterface>;
  /** Pool size. Default {@link DEFAULT_DB_POOL_MAX}. */
  readonly poolSize?: number;
  /**
   * How long a query waits for a free connection of an exhausted pool before it fails (the
   * client reads SERVICE_UNAVAILABLE, retryable: see errors.ts). Default {@link DEFAULT_DB_POOL_ACQUIRE_TIMEOUT_MS}.
   */
  readonly acquireTimeoutMs?: number;
  /** TLS (`postgresTls(settings)`); default none. */
  readonly ssl?: TlsClientOptions | undefined;
}

/** A service's pool size when neither its definition nor DB_POOL_MAX says otherwise. */
export const DEFAULT_DB_POOL_MAX = 10;
/** How long a query queues for a connection of an exhausted pool by default (ms). */
export const DEFAULT_DB_POOL_ACQUIRE_TIMEOUT_MS = 10_000;

/**
 * The pool settings every service reads from its environment (standalone, `npm start`, tests):
 * `DB_POOL_MAX` connections (default `defaultMax`, the service's own) and
 * `DB_POOL_ACQUIRE_TIMEOUT_MS`, how long a query queues for a connection of an exhausted pool.
 */
export function databasePoolSettings(defaultMax: number = DEFAULT_DB_POOL_MAX) {
  return defineSettings({
    DB_POOL_MAX: env.int(defaultMax, 1),
    DB_POOL_ACQUIRE_TIMEOUT_MS: env.int(DEFAULT_DB_POOL_ACQUIRE_TIMEOUT_MS, 1),
  });
}

/**
 * A TypeORM data source for one service. Schema changes go through migrations only
 * (`synchronize` is never on); `runMigrations` applies them in a transaction each.
 */
export function createDataSource(options: DataSourceOptions): DataSource {
  return new DataSource({
    type: 'postgres',
    url: options.url,
    ...(options.ssl ? { ssl: options.ssl } : {}),
    entities: [...options.entities],
    migrations: [...options.migrations],
    migrationsTableName: 'migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    logging: false,
    extra: { max: options.poolSize ?? DEFAULT_DB_POOL_MAX, application_name: options.name, connectionTimeoutMillis: options.acquireTimeoutMs ?? DEFAULT_DB_POOL_ACQUIRE_TIMEOUT_MS },
  });
}

/**
 * Initialises a data source made by {@link createDataSource} for `url`. A server whose certificate
 * does not verify rejects with a TlsVerificationError naming the server and DATABASE_SSL_CA_FILE
 * (the line an operator reads) instead of node-postgres' bare OpenSSL message.
 */
export async function initializeDataSource(dataSource: DataSource, url: string): Promise<void> {
  await dataSource.initialize().catch((error: unknown) => {
    throw explainTlsFailure(error, `Postgres ${hostOf(url)}`, 'DATABASE_SSL_CA_FILE');
  });
}

/** host:port of a database URL (no credentials), for messages. */
function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '(unparsable URL)';
  }
}

/** Creates the database named in `url` when it does not exist (connecting to `postgres` to do so). */
export async function ensureDatabase(url: string, ssl?: TlsClientOptions): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  if (!/^[a-z_][a-z0-9_]*$/i.test(name)) throw new Error(`Unsupported database name "${name}"`);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString(), ...(ssl ? { ssl } : {}) });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) {
      await client.query(`CREATE DATABASE "${name}"`).catch((error: { code?: string }) => {
        if (error.code !== '42P04' && error.code !== '23505') throw error; // created concurrently
      });
    }
  } finally {
    await client.end();
  }
}

/** Returns `url` with its database name replaced. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/**
 * Adds database metrics to an initialised data source, labelled with `service`:
 * `db_query_duration_seconds` (every query TypeORM runs, by outcome) and, measured at scrape time,
 * `db_pool_connections` (open connections by state: in_use, idle), `db_pool_waiting_requests`
 * (callers waiting for a connection: the pool is exhausted) and `db_pool_max_connections`.
 * Answers a function that removes the pool gauges (call it before destroying the data source).
 */
export function instrumentDataSource(dataSource: DataSource, service: string): () => void {
  const duration = histogram({ name: 'db_query_duration_seconds', help: 'Duration of database queries in seconds, by service and outcome (ok, error).', labelNames: ['service', 'outcome'] });
  const connections = sourcedGauge({ name: 'db_pool_connections', help: 'Open connections of the database pool, by service and state (in_use, idle).', labelNames: ['service', 'state'] });
  const waiting = sourcedGauge({ name: 'db_pool_waiting_requests', help: 'Requests waiting for a database connection because the pool is exhausted, by service.', labelNames: ['service'] });
  const max = sourcedGauge({ name: 'db_pool_max_connections', help: 'Configured size of the database pool, by service.', labelNames: ['service'] });
  // TypeORM announces each query to its subscribers before and after it runs; a query runner
  // runs one query at a time, so its start time can be kept per runner. Subscribers are plain
  // objects here (no decorators): pushing one into `subscribers` is what the decorator would do.
  const started = new WeakMap<object, bigint>();
  const subscriber: EntitySubscriberInterface = {
    beforeQuery: (event) => void started.set(event.queryRunner, process.hrtime.bigint()),
    afterQuery: (event) => {
      const t0 = started.get(event.queryRunner);
      if (t0 === undefined) return;
      started.delete(event.queryRunner);
      duration.observe({ service, outcome: event.success ? 'ok' : 'error' }, Number(process.hrtime.bigint() - t0) / 1e9);
    },
  };
  (dataSource.subscribers as EntitySubscriberInterface[]).push(subscriber);
  duration.zero({ service, outcome: 'error' });
  // pg's Pool counters (the driver's `master` pool); undefined before initialisation.
  const pool = (): { totalCount: number; idleCount: number; waitingCount: number; options: { max?: number } } | undefined =>
    dataSource.isInitialized ? ((dataSource.driver as unknown as { master?: { totalCount: number; idleCount: number; waitingCount: number; options: { max?: number } } }).master ?? undefined) : undefined;
  const removers = [
    connections.addSource(async () => {
      const p = pool();
      return p ? [{ labels: { service, state: 'in_use' }, value: p.totalCount - p.idleCount }, { labels: { service, state: 'idle' }, value: p.idleCount }] : [];
    }),
    waiting.addSource(async () => {
      const p = pool();
      return p ? [{ labels: { service }, value: p.waitingCount }] : [];
    }),
    max.addSource(async () => {
      const p = pool();
      return p ? [{ labels: { service }, value: p.options.max ?? DEFAULT_DB_POOL_MAX }] : [];
    }),
  ];
  return () => {
    for (const remove of removers) remove();
  };
}

/**
 * Applies pending migrations under a session-level advisory lock, so replicas (or a migration
 * Job and a starting pod) that start together apply them once, one after the other, instead of
 * racing on the same DDL. Answers the names of the migrations this call applied.
 */
export async function runMigrationsLocked(ds: DataSource): Promise<string[]> {
  const runner = ds.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock(7419003)');
    const applied = await ds.runMigrations({ transaction: 'each' });
    return applied.map((m) => m.name);
  } finally {
    await runner.query('SELECT pg_advisory_unlock(7419003)').catch(() => undefined);
    await runner.release();
  }
}
