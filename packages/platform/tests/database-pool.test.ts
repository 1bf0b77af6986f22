/**
 * A service whose database pool is exhausted (issue 16: orders' 10 connections ran dry under the
 * storefront's checkout burst): a request queues for a connection for DB_POOL_ACQUIRE_TIMEOUT_MS
 * and is served when one comes free; past that it answers SERVICE_UNAVAILABLE with
 * `retryable: true`, never a 500 or INTERNAL_SERVER_ERROR. Real subgraph over HTTP, real Postgres;
 * the pool is made small (two connections) and the test takes both, as requests holding transactions do.
 */
import { randomUUID } from 'node:crypto';
import { parse } from 'graphql';
import { Pool } from 'pg';
import type { RunningService } from '@shop/platform';
import { ConfigError, createLogger, databasePoolSettings, defineService, InProcessBus, NO_SETTINGS, parseSettings, startService } from '@shop/platform';
import type { TestDatabase } from '@shop/platform/testing';
import { createTestDatabase, postAsGateway } from '@shop/platform/testing';
import type { DataSource } from 'typeorm';

const SDL = `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
  type Query {
    ping: Int
  }
`;

const probe = defineService({
  name: 'pool-probe',
  defaultPort: 0,
  typeDefs: parse(SDL),
  resolvers: {
    Query: {
      ping: async (_: unknown, __: unknown, ctx: { db: DataSource }) => Number(((await ctx.db.query('SELECT 1 AS one')) as Array<{ one: number }>)[0]!.one),
    },
  } as never,
  entities: [],
  migrations: [],
  settings: NO_SETTINGS,
  setup: (deps) => deps.dataSource,
  context: (base, db) => ({ ...base, db }),
});

describe('a service whose database pool is exhausted', () => {
  const secret = randomUUID() + randomUUID();
  const dbs: TestDatabase[] = [];
  const running: Array<RunningService<unknown>> = [];
  let busPool: Pool;
  let bus: InProcessBus;

  beforeAll(async () => {
    const db = await createTestDatabase('pool_bus');
    dbs.push(db);
    busPool = new Pool({ connectionString: db.url, max: 3 });
    bus = new InProcessBus({ pool: busPool, pollIntervalMs: 200 });
  });

  afterAll(async () => {
    for (const s of running.reverse()) await s.stop();
    await bus?.close();
    await busPool?.end();
    for (const d of dbs) await d.drop();
  });

  /** A probe with a pool of two connections (migrations need two) that waits `acquireTimeoutMs` for one. */
  async function start(acquireTimeoutMs: number): Promise<{ url: string; db: DataSource }> {
    const database = await createTestDatabase('pool_probe');
    dbs.push(database);
    const service = await startService(probe, { port: 0, databaseUrl: database.url, bus, internalAuthSecret: secret, nodeEnv: 'test', logger: createLogger('pool-probe', process.env['LOG_LEVEL'] ?? 'silent'), drainTimeoutMs: 1_000, followRevocations: false, databasePool: { max: 2, acquireTimeoutMs } });
    running.push(service as RunningService<unknown>);
    return { url: service.url, db: service.parts };
  }

  const ask = (url: string, query: string) => postAsGateway(url, { secret, audience: 'pool-probe', query });

  /** Takes every connection of the service's pool (as requests holding transactions do), answers their release. */
  async function exhaust(db: DataSource): Promise<() => Promise<void>> {
    const runners = [db.createQueryRunner(), db.createQueryRunner()];
    for (const r of runners) await r.connect();
    return async () => {
      for (const r of runners) await r.release();
    };
  }

  it('should queue a request for a connection and serve it once one is free', async () => {
    const { url, db } = await start(30_000);
    const release = await exhaust(db);
    const answer = ask(url, '{ ping }');
    // Still waiting for a connection a while later (nothing answered it yet).
    expect(await Promise.race([answer, new Promise((r) => setTimeout(() => r('waiting'), 1_000))])).toBe('waiting');
    await release();
    expect(await answer).toEqual({ status: 200, data: { ping: 1 } });
  });

  it('should answer SERVICE_UNAVAILABLE, retryable, never a 500, when no connection comes within the wait', async () => {
    const { url, db } = await start(300);
    const release = await exhaust(db);
    try {
      const answer = await ask(url, '{ ping }');
      expect(answer.status).not.toBe(500);
      expect(answer.data).toEqual({ ping: null });
      expect(answer.errors).toEqual([{ message: expect.stringContaining('retry later') as unknown, path: ['ping'], extensions: { code: 'SERVICE_UNAVAILABLE', retryable: true } }]);
    } finally {
      await release();
    }
    // Once connections are free again the same service serves as usual.
    expect(await ask(url, '{ ping }')).toEqual({ status: 200, data: { ping: 1 } });
  });
});

describe('the pool settings', () => {
  it("should take DB_POOL_MAX and DB_POOL_ACQUIRE_TIMEOUT_MS from the environment, else the service's size and 10 s", () => {
    expect(parseSettings(databasePoolSettings(20), {}, 'test', {})).toEqual({ DB_POOL_MAX: 20, DB_POOL_ACQUIRE_TIMEOUT_MS: 10_000 });
    expect(parseSettings(databasePoolSettings(20), {}, 'test', { DB_POOL_MAX: '40', DB_POOL_ACQUIRE_TIMEOUT_MS: '2500' })).toEqual({ DB_POOL_MAX: 40, DB_POOL_ACQUIRE_TIMEOUT_MS: 2_500 });
  });

  it('should refuse a pool of no connection with a line naming the setting', () => {
    expect(() => parseSettings(databasePoolSettings(), {}, 'test', { DB_POOL_MAX: '0' })).toThrow(ConfigError);
    expect(() => parseSettings(databasePoolSettings(), {}, 'test', { DB_POOL_MAX: 'many' })).toThrow(/DB_POOL_MAX/);
  });
});
