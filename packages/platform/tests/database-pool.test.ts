/**
 * A service whose database pool is exhausted (issue 16: orders' 10 connections ran dry under the
 * storefront's checkout burst): a request queues for a connection for DB_POOL_ACQUIRE_TIMEOUT_MS
 * and is served when one comes free; past that it answers SERVICE_UNAVAILABLE with
 * `retryable: true`, never a 500 or INTERNAL_SERVER_ERROR. Real subgraph over HTTP, real Postgres;
 * the pool is made small (one connection) so that one slow statement exhausts it.
 */
import { randomUUID } from 'node:crypto';
import { parse } from 'graphql';
import { Client, Pool } from 'pg';
import type { RunningService } from '@shop/platform';
import { ConfigError, createLogger, databasePoolSettings, defineService, InProcessBus, NO_SETTINGS, parseSettings, startService } from '@shop/platform';
import type { TestDatabase } from '@shop/platform/testing';
import { createTestDatabase, eventually, postAsGateway } from '@shop/platform/testing';
import type { DataSource } from 'typeorm';

const SDL = `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
  type Query {
    "Holds a connection for ms milliseconds."
    hold(ms: Int!): Boolean!
    ping: Int
  }
`;

const probe = defineService({
  name: 'pool-probe',
  defaultPort: 0,
  typeDefs: parse(SDL),
  resolvers: {
    Query: {
      hold: async (_: unknown, { ms }: { ms: number }, ctx: { db: DataSource }) => (await ctx.db.query('SELECT pg_sleep($1::float / 1000)', [ms]), true),
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

  /** A probe with a pool of one connection that waits `acquireTimeoutMs` for it. */
  async function start(acquireTimeoutMs: number): Promise<{ url: string; dbUrl: string }> {
    const db = await createTestDatabase('pool_probe');
    dbs.push(db);
    const service = await startService(probe, { port: 0, databaseUrl: db.url, bus, internalAuthSecret: secret, nodeEnv: 'test', logger: createLogger('pool-probe', process.env['LOG_LEVEL'] ?? 'silent'), drainTimeoutMs: 1_000, followRevocations: false, databasePool: { max: 1, acquireTimeoutMs } });
    running.push(service as RunningService<unknown>);
    return { url: service.url, dbUrl: db.url };
  }

  const ask = (url: string, query: string) => postAsGateway(url, { secret, audience: 'pool-probe', query });

  /** Starts a request that holds the pool's one connection, and waits until Postgres runs it. */
  async function exhaust(url: string, dbUrl: string, ms: number): Promise<Promise<unknown>> {
    const holding = ask(url, `{ hold(ms: ${ms}) }`);
    const admin = new Client({ connectionString: dbUrl });
    await admin.connect();
    try {
      const name = new URL(dbUrl).pathname.slice(1);
      await eventually(async () => Number((await admin.query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'SELECT pg_sleep%' AND state = 'active'", [name])).rows[0]!.n) > 0, 10_000);
    } finally {
      await admin.end();
    }
    return holding;
  }

  it('should queue a request for a connection and serve it once one is free', async () => {
    const { url, dbUrl } = await start(30_000);
    const holding = await exhaust(url, dbUrl, 1_500);
    const answer = await ask(url, '{ ping }');
    expect(answer).toEqual({ status: 200, data: { ping: 1 } });
    expect(await holding).toEqual({ status: 200, data: { hold: true } });
  });

  it('should answer SERVICE_UNAVAILABLE, retryable, never a 500, when no connection comes within the wait', async () => {
    const { url, dbUrl } = await start(300);
    const holding = await exhaust(url, dbUrl, 5_000);
    const answer = await ask(url, '{ ping }');
    expect(answer.status).not.toBe(500);
    expect(answer.data).toEqual({ ping: null });
    expect(answer.errors).toEqual([{ message: expect.stringContaining('retry later') as unknown, path: ['ping'], extensions: { code: 'SERVICE_UNAVAILABLE', retryable: true } }]);
    // The request that held the connection is served as usual, and the pool serves again after it.
    expect(await holding).toEqual({ status: 200, data: { hold: true } });
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
