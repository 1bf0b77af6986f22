/**
 * A small federated graph for the gateway's subscription tests: two real subgraphs (the platform's
 * service runtime, each with its own fresh database, on the durable in-process bus) and a real
 * gateway composed from them, with the subscription server attached.
 *
 *   ticker  owns Subscription.ticks / secretTicks / tickBatches, served through its `live` hook
 *   names   resolves Product.name (the "rest" of the plan); id "broken" fails, every call is counted
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { composeServices } from '@apollo/composition';
import { parse } from 'graphql';
import type { Client } from 'graphql-ws';
import { createClient } from 'graphql-ws';
import { Pool } from 'pg';
import WebSocket from 'ws';
import { defineEvent } from '@shop/events';
import type { LiveEvent, RequestContext, RunningService } from '@shop/platform';
import { AccessTokenIssuer, createLogger, defineService, forbidden, InProcessBus, LivePubSub, NO_SETTINGS, onLive, requireUser, startService } from '@shop/platform';
import { createTestDatabase } from '@shop/platform/testing';
import type { TestDatabase } from '@shop/platform/testing';
import { z } from 'zod';
import type { GatewaySettings, RunningGateway } from '../src/gateway';
import { jwtVerifier, SessionRevocations, startGateway } from '../src';
import type { SubscriptionGatewayOptions, SubscriptionServer } from '../src/subscriptions';
import { attachSubscriptions } from '../src/subscriptions';

const TICKER_SDL = `
extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])
type Query { tickerVersion: String }
type Product @key(fields: "id", resolvable: false) { id: ID! }
type Tick { seq: Int! productId: ID! product: Product! products: [Product!]! viewer: String padding: String }
type Subscription {
  "Ticks of the given products, for anyone."
  ticks(productIds: [ID!]!): Tick!
  "Every tick, signed in only; viewer is the caller's user id as the subgraph saw it."
  secretTicks: Tick!
}
`;

const NAMES_SDL = `
extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])
type Product @key(fields: "id") { id: ID! name: String! similar: Product "Always FORBIDDEN." secretNote: String }
type Query { product(id: ID!): Product "Always FORBIDDEN (a public error code from a subgraph)." secret: String }
type Mutation { "Answers the product (nothing is stored): a mutation for the gateway's edge tests." touchProduct(id: ID!): Product }
`;

export interface TickPayload {
  readonly seq: number;
  readonly productId: string;
  readonly productIds?: readonly string[];
  readonly padding?: string;
}

/** A live event on the bus, to test the deps.listen path end to end. */
export const TickHappened = defineEvent('test.tick-happened.v1', 'test.ticks', z.object({ seq: z.number().int(), productId: z.string() }));

/** The ticker's parts: its live pub/sub. */
interface TickerParts {
  readonly live: LivePubSub<{ readonly ticks: TickPayload }>;
}
type TickerContext = RequestContext & TickerParts;

const tickerService = defineService({
  name: 'ticker',
  defaultPort: 0,
  typeDefs: parse(TICKER_SDL),
  resolvers: {
    Tick: {
      product: (t: TickPayload) => ({ __typename: 'Product', id: t.productId }),
      products: (t: TickPayload) => (t.productIds ?? [t.productId]).map((id) => ({ __typename: 'Product', id })),
    },
    Subscription: {
      ticks: {
        subscribe: (_: unknown, args: { productIds: string[] }, ctx: TickerContext) => ctx.live.subscribe('ticks', { filter: (t) => args.productIds.includes(t.productId) }),
        resolve: (e: LiveEvent<TickPayload>) => e.payload,
      },
      secretTicks: {
        subscribe: (_: unknown, _args: unknown, ctx: TickerContext) => {
          requireUser(ctx);
          return ctx.live.subscribe('ticks');
        },
        resolve: (e: LiveEvent<TickPayload>, _args: unknown, ctx: TickerContext) => ({ ...e.payload, viewer: ctx.identity?.userId ?? null }),
      },
    },
  },
  entities: [],
  migrations: [],
  settings: NO_SETTINGS,
  setup: (): TickerParts => ({ live: new LivePubSub() }),
  context: (base, parts): TickerContext => ({ ...base, ...parts }),
  live: ({ live }) => [onLive(TickHappened, (e) => live.publish('ticks', { seq: e.data.seq, productId: e.data.productId }, e.occurredAt))],
});

export interface NamesStats {
  /** `_entities` calls received (one per batched fetch). */
  entityCalls: number;
  /** Representations received over all calls. */
  representations: number;
}

function namesService(stats: NamesStats) {
  return defineService({
    name: 'names',
    defaultPort: 0,
    typeDefs: parse(NAMES_SDL),
    resolvers: {
      Product: {
        __resolveReference: (ref: { id: string }) => {
          stats.representations++;
          return { id: ref.id };
        },
        similar: (p: { id: string }) => ({ id: `${p.id}+` }),
        secretNote: () => {
          throw forbidden('Not for you.');
        },
        name: (p: { id: string }) => {
          if (p.id === 'broken') throw new Error('names store unavailable for this product');
          return `Product ${p.id}`;
        },
      },
      Query: {
        product: (_: unknown, { id }: { id: string }) => ({ id }),
        secret: () => {
          throw forbidden('Not for you.');
        },
      },
      Mutation: { touchProduct: (_: unknown, { id }: { id: string }) => ({ id }) },
    },
    entities: [],
    migrations: [],
    settings: NO_SETTINGS,
    setup: () => undefined,
    context: (base) => {
      stats.entityCalls++; // one context per HTTP request = per batched _entities fetch
      return base;
    },
  });
}

export interface Fixture {
  readonly gateway: RunningGateway;
  readonly wsUrl: string;
  readonly subscriptions: SubscriptionServer;
  readonly names: NamesStats;
  readonly bus: InProcessBus;
  readonly jwtSecret: string;
  readonly internalAuthSecret: string;
  ticker(): RunningService<TickerParts>;
  publish(tick: TickPayload): void;
  tokenFor(options?: { userId?: string; roles?: Array<'CUSTOMER' | 'ADMIN'>; expiresInSeconds?: number; sessionId?: string }): Promise<string>;
  /** Puts a session on the gateway's deny list (as users' session-revoked events would). */
  revoke(sessionId: string): void;
  /** Starts one more gateway (same subgraphs and secrets, subscriptions attached) with these edge settings; stopped by stop(). */
  startGateway(edge?: EdgeSettings): Promise<RunningGateway>;
  /** Stops the ticker subgraph and starts it again on the same port after `downtimeMs`. */
  restartTicker(downtimeMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The gateway settings a test may set: the edge (rate limits, safelist, client address), query
 * limits, and nodeEnv (which also runs the subgraphs in that mode).
 */
export type EdgeSettings = Partial<Pick<GatewaySettings, 'rateLimits' | 'redisUrl' | 'persistedOperations' | 'trustProxy' | 'limits' | 'nodeEnv'>>;

export async function startFixture(options: Partial<SubscriptionGatewayOptions> = {}, edge: EdgeSettings = {}): Promise<Fixture> {
  const nodeEnv = edge.nodeEnv ?? 'test';
  const dbs: TestDatabase[] = [];
  const db = async (name: string) => {
    const d = await createTestDatabase(name);
    dbs.push(d);
    return d.url;
  };
  const pool = new Pool({ connectionString: await db('subs_bus'), max: 10 });
  const bus = new InProcessBus({ pool, pollIntervalMs: 50 });
  const internalAuthSecret = randomUUID() + randomUUID();
  const jwtSecret = randomUUID() + randomUUID();
  const logger = (name: string) => createLogger(name, process.env['LOG_LEVEL'] ?? 'silent');
  const stats: NamesStats = { entityCalls: 0, representations: 0 };
  const tickerDb = await db('subs_ticker');
  const settings = (name: string, databaseUrl: string, port = 0) => ({ port, databaseUrl, bus, internalAuthSecret, nodeEnv, logger: logger(name), drainTimeoutMs: 1_000 });
  let ticker = await startService(tickerService, settings('ticker', tickerDb));
  const names = await startService(namesService(stats), settings('names', await db('subs_names')));

  const composed = composeServices([
    { name: 'ticker', url: ticker.url, typeDefs: parse(TICKER_SDL) },
    { name: 'names', url: names.url, typeDefs: parse(NAMES_SDL) },
  ]);
  if (composed.errors) throw new Error(composed.errors.map((e) => e.message).join('\n'));
  const supergraphFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'subs-')), 'supergraph.graphql');
  writeFileSync(supergraphFile, composed.supergraphSdl);

  let subscriptions: SubscriptionServer | undefined;
  // The gateway's deny list, fed by the test instead of users' events.
  const revocations = new SessionRevocations();
  const gatewayWith = (settings: EdgeSettings, onStarted?: (s: SubscriptionServer) => void) =>
    startGateway({
      port: 0,
      supergraphFile,
      subgraphUrls: { ticker: ticker.url, names: names.url },
      internalAuthSecret,
      verifier: jwtVerifier(jwtSecret, revocations),
      revocations,
      nodeEnv,
      logger: logger('gateway'),
      drainTimeoutMs: 1_000,
      ...settings,
      attach: attachSubscriptions({
        internalAuthSecret,
        publicRootFields: ['ticks'],
        upstream: { retryBaseMs: 50, retryMaxMs: 500, keepAliveMs: 2_000 },
        ...options,
        ...(onStarted ? { onStarted } : {}),
      }),
    });
  const gateway = await gatewayWith(edge, (s) => (subscriptions = s));
  const more: RunningGateway[] = [];
  return {
    gateway,
    wsUrl: gateway.url.replace('http:', 'ws:'),
    subscriptions: subscriptions!,
    names: stats,
    bus,
    jwtSecret,
    internalAuthSecret,
    ticker: () => ticker,
    publish: (tick) => ticker.parts.live.publish('ticks', { ...tick }, new Date()),
    revoke: (sessionId) => revocations.revoke([sessionId], Date.now() + 15 * 60_000),
    tokenFor: async ({ userId = randomUUID(), roles = ['CUSTOMER' as const], expiresInSeconds = 900, sessionId = randomUUID() } = {}) =>
      (await new AccessTokenIssuer(jwtSecret, expiresInSeconds).issue({ userId, roles, sessionId })).token,
    startGateway: async (settings = {}) => {
      const another = await gatewayWith(settings);
      more.push(another);
      return another;
    },
    restartTicker: async (downtimeMs = 0) => {
      const port = ticker.port;
      await ticker.stop();
      if (downtimeMs) await new Promise((r) => setTimeout(r, downtimeMs));
      ticker = await startService(tickerService, settings('ticker', tickerDb, port));
    },
    stop: async () => {
      for (const g of more) await g.stop();
      await gateway.stop();
      await ticker.stop();
      await names.stop();
      await bus.close();
      await pool.end();
      for (const d of dbs) await d.drop();
    },
  };
}

/** What one test client saw of one subscription. */
export interface Recorded<T = any> {
  readonly events: Array<{ data?: T; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> }>;
  completed: boolean;
  error: unknown;
  readonly closes: Array<{ code: number; reason: string }>;
  unsubscribe(): void;
  readonly client: Client;
}

/** Opens a graphql-ws client (no retries: a close is a test outcome) and one subscription on it. */
export function subscribe<T = any>(url: string, query: string, variables: Record<string, unknown> = {}, token?: string, client?: Client): Recorded<T> {
  const closes: Array<{ code: number; reason: string }> = [];
  const c =
    client ??
    createClient({
      url,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      lazy: true,
      connectionParams: token ? { authorization: `Bearer ${token}` } : {},
      on: { closed: (e) => closes.push({ code: (e as { code: number }).code, reason: String((e as { reason: string }).reason) }) },
    });
  const recorded: Recorded<T> = {
    events: [],
    completed: false,
    error: undefined,
    closes,
    client: c,
    unsubscribe: () => undefined,
  };
  recorded.unsubscribe = c.subscribe<T>(
    { query, variables },
    {
      next: (value) => void recorded.events.push(value as Recorded<T>['events'][number]),
      error: (error) => void (recorded.error = error),
      complete: () => void (recorded.completed = true),
    },
  );
  return recorded;
}
