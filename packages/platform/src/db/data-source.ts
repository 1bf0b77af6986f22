import { DataSource } from 'typeorm';
import type { EntitySchema, MigrationInterface } from 'typeorm';
import { Client } from 'pg';

export interface DataSourceOptions {
  /** postgres:// URL of the service's own database. */
  readonly url: string;
  /** Application name shown in pg_stat_activity. */
  readonly name: string;
  readonly entities: ReadonlyArray<EntitySchema<any>>;
  readonly migrations: ReadonlyArray<new () => MigrationInterface>;
  /** Pool size. Default 10. */
  readonly poolSize?: number;
}

/**
 * A TypeORM data source for one service. Schema changes go through migrations only
 * (`synchronize` is never on); `runMigrations` applies them in a transaction each.
 */
export function createDataSource(options: DataSourceOptions): DataSource {
  return new DataSource({
    type: 'postgres',
    url: options.url,
    entities: [...options.entities],
    migrations: [...options.migrations],
    migrationsTableName: 'migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    logging: false,
    extra: { max: options.poolSize ?? 10, application_name: options.name, connectionTimeoutMillis: 5_000 },
  });
}

/** Creates the database named in `url` when it does not exist (connecting to `postgres` to do so). */
export async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  if (!/^[a-z_][a-z0-9_]*$/i.test(name)) throw new Error(`Unsupported database name "${name}"`);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString() });
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
