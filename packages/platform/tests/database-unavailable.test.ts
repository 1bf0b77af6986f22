/**
 * A database that cannot serve (refusing connections, or ending the session as a restart does),
 * as the chaos run's Postgres restart found it: a client reads SERVICE_UNAVAILABLE with
 * `retryable: true` (it read INTERNAL_SERVER_ERROR), and an event whose handler fails for that
 * reason waits for the database instead of being dead-lettered after five quick attempts (orders
 * sat PENDING, their events in dlq.inventory and dlq.orders). Anything else unexpected is still a
 * masked INTERNAL_SERVER_ERROR, and a handler that fails on its own is still dead-lettered.
 * Real node-postgres errors from a real server.
 */
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { GraphQLError } from 'graphql';
import { Client } from 'pg';
import type { BusMessage, OutgoingMessage } from '@shop/platform';
import { createDataSource, createLogger, maskError } from '@shop/platform';
import { deliverWithRetry } from '../src/events/bus';
import { testDatabaseUrl } from '@shop/platform/testing';

const logger = createLogger('mask-error-test', 'silent');

/** The error as Apollo Server hands it to formatError: a GraphQLError at a path wrapping the resolver's error. */
function masked(error: unknown): ReturnType<typeof maskError> {
  // Not `instanceof Error`: errors made by node's own modules come from another realm under jest.
  const wrapped = new GraphQLError((error as Error).message, { path: ['placeOrder'], originalError: error as Error });
  return maskError(wrapped.toJSON(), wrapped, logger);
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function failureOf(run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure');
}

/** The error a service's first query gets while its database refuses connections. */
async function refusedConnection(): Promise<unknown> {
  const url = new URL(testDatabaseUrl());
  url.port = String(await closedPort());
  const ds = createDataSource({ url: url.toString(), name: 'database-unavailable-refused', entities: [], migrations: [] });
  return failureOf(() => ds.initialize());
}

describe('errors a client reads when the database is away', () => {
  it('should answer SERVICE_UNAVAILABLE, retryable, when the database refuses connections', async () => {
    const error = await refusedConnection();
    expect(masked(error)).toEqual({ message: expect.stringContaining('retry later') as unknown, path: ['placeOrder'], extensions: { code: 'SERVICE_UNAVAILABLE', retryable: true } });
  });

  it('should answer SERVICE_UNAVAILABLE, retryable, when the server ends the session (a restart)', async () => {
    const victim = new Client({ connectionString: testDatabaseUrl() });
    const admin = new Client({ connectionString: testDatabaseUrl() });
    await Promise.all([victim.connect(), admin.connect()]);
    victim.on('error', () => undefined); // the terminated connection also reports on the client
    try {
      const pid = (await victim.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      const sleeping = failureOf(() => victim.query('SELECT pg_sleep(30)'));
      await new Promise((r) => setTimeout(r, 200));
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      expect(masked(await sleeping).extensions).toEqual({ code: 'SERVICE_UNAVAILABLE', retryable: true });
      // Afterwards the same client is unusable: also a database that cannot serve, not a bug.
      expect(masked(await failureOf(() => victim.query('SELECT 1'))).extensions).toEqual({ code: 'SERVICE_UNAVAILABLE', retryable: true });
    } finally {
      await Promise.allSettled([victim.end(), admin.end()]);
    }
  });

  it('should still mask a failing statement and any other unexpected error as INTERNAL_SERVER_ERROR', async () => {
    const client = new Client({ connectionString: testDatabaseUrl() });
    await client.connect();
    try {
      expect(masked(await failureOf(() => client.query('SELECT * FROM no_such_table'))).extensions).toEqual({ code: 'INTERNAL_SERVER_ERROR' });
    } finally {
      await client.end();
    }
    expect(masked(new TypeError("Cannot read properties of undefined (reading 'id')"))).toEqual({ message: 'Internal server error', path: ['placeOrder'], extensions: { code: 'INTERNAL_SERVER_ERROR' } });
  });
});

describe('events whose handler finds the database away', () => {
  const message: Omit<BusMessage, 'attempt'> = { topic: 'orders.order', partition: 0, offset: '7', key: 'order-1', value: '{}', headers: {} };

  async function deliver(handle: (m: BusMessage) => Promise<void>): Promise<{ outcome: string; deadLettered: OutgoingMessage[]; attempts: number }> {
    const deadLettered: OutgoingMessage[] = [];
    let attempts = 0;
    const outcome = await deliverWithRetry(
      { topics: ['orders.order'], groupId: 'inventory', maxAttempts: 5, retryDelayMs: 1, handle: async (m) => ((attempts = m.attempt), handle(m)) },
      message,
      async (dlq) => void deadLettered.push(dlq),
      () => false,
    );
    return { outcome, deadLettered, attempts };
  }

  it('should keep the event until the database is back, however many attempts that takes, and dead-letter nothing', async () => {
    const unavailable = await refusedConnection();
    const result = await deliver(async (m) => {
      if (m.attempt <= 8) throw unavailable; // a restart longer than five quick retries
    });
    expect(result).toEqual({ outcome: 'handled', deadLettered: [], attempts: 9 });
  });

  it('should still dead-letter an event whose handler fails for any other reason after five attempts', async () => {
    const result = await deliver(async () => {
      throw new Error('order-1 has no such product');
    });
    expect(result.outcome).toBe('dead-lettered');
    expect(result.attempts).toBe(5);
    expect(result.deadLettered).toEqual([expect.objectContaining({ topic: 'dlq.inventory', key: 'order-1' })]);
  });
});
