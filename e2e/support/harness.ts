import { randomBytes, randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import type { EventBus } from '@shop/platform';
import { AccessTokenIssuer, createLogger, InProcessBus, KafkaBus } from '@shop/platform';
import { createTestDatabase, eventually, testKafkaBrokers } from '@shop/platform/testing';
import type { TestDatabase } from '@shop/platform/testing';
import type { GatewaySettings, RunningGateway } from '@shop/gateway';
import { jwtVerifier, startGateway } from '@shop/gateway';
import type { RunningSupergraph, ServiceName, ServiceSettings, SupergraphOptions } from '@shop/supergraph';
import { startSupergraph } from '@shop/supergraph';

export type BusKind = 'in-process' | 'kafka';
export const BUS_KINDS: readonly BusKind[] = ['in-process', 'kafka'];

export interface TestShop {
  readonly supergraph: RunningSupergraph;
  readonly bus: EventBus;
  /** http://127.0.0.1:<port>/graphql of the gateway. */
  readonly url: string;
  readonly jwtSecret: string;
  readonly internalAuthSecret: string;
  /** The shop's topic and group prefix on Kafka (a process joining its bus sets KAFKA_NAMESPACE to it); undefined on the in-process bus. */
  readonly kafkaNamespace: string | undefined;
  /** Database URL of a service (to inspect raw tables). */
  databaseUrl(service: ServiceName): string;
  /** Runs one GraphQL operation through the gateway. */
  gql<T = any>(query: string, variables?: Record<string, unknown>, token?: string | null): Promise<GraphQLResponse<T>>;
  /** Mints an access token as the users service would (for tests of other subgraphs). */
  tokenFor(user: { userId?: string; roles?: Array<'CUSTOMER' | 'ADMIN'>; sessionId?: string; expiresInSeconds?: number }): Promise<string>;
  stop(): Promise<void>;
}

export interface GraphQLResponse<T> {
  readonly status: number;
  readonly data?: T;
  readonly errors?: Array<{ message: string; path?: Array<string | number>; extensions?: Record<string, any> }>;
  /** The response's extensions (e.g. `stale`, the cache's stale answers). */
  readonly extensions?: Record<string, any>;
}

/**
 * Starts a complete shop for one test file: fresh databases per service, the chosen event bus
 * (durable in-process or the real Kafka broker), the four subgraphs and the gateway on free ports.
 */
export async function startTestShop(options: { bus?: BusKind; seed?: boolean; demoShoppers?: boolean; settings?: ServiceSettings; gateway?: SupergraphOptions['gateway'] } = {}): Promise<TestShop> {
  const dbs = new Map<string, TestDatabase>();
  for (const name of ['users', 'catalog', 'inventory', 'orders', 'eventbus']) dbs.set(name, await createTestDatabase(name));
  const logger = (name: string) => createLogger(name, process.env['LOG_LEVEL'] ?? 'silent');
  let pool: Pool | undefined;
  let bus: EventBus;
  let kafkaNamespace: string | undefined;
  if ((options.bus ?? 'in-process') === 'kafka') {
    // A namespace per shop: parallel test files share the broker, never topics or consumer groups.
    const ns = `test-${randomBytes(4).toString('hex')}`;
    kafkaNamespace = ns;
    bus = new KafkaBus({ brokers: testKafkaBrokers(), logger: logger('bus'), clientId: ns, partitions: 3, namespace: ns });
  } else {
    pool = new Pool({ connectionString: dbs.get('eventbus')!.url, max: 20 });
    bus = new InProcessBus({ pool, pollIntervalMs: 100 });
  }
  const jwtSecret = randomBytes(32).toString('base64url');
  const internalAuthSecret = randomBytes(32).toString('base64url');
  const supergraph = await startSupergraph({
    databaseUrl: (name) => dbs.get(name)!.url,
    bus,
    gatewayPort: 0,
    servicePorts: { users: 0, catalog: 0, inventory: 0, orders: 0 },
    internalAuthSecret,
    jwtSecret,
    seed: options.seed ?? false,
    demoShoppers: options.demoShoppers ?? false,
    nodeEnv: 'test',
    ...(options.settings ? { settings: options.settings } : {}),
    ...(options.gateway ? { gateway: options.gateway } : {}),
    logger,
  });
  const url = supergraph.gateway.url;
  // A subgraph reports ready once it has replayed the session revocations (in the background after
  // start): a test begins with every service ready, as a load balancer would send it traffic.
  const readyUrls = [url, ...Object.values(supergraph.services).map((s) => s.url)].map((u) => u.replace(/\/graphql$/, '/health/ready'));
  await eventually(async () => (await Promise.all(readyUrls.map(async (u) => (await fetch(u)).status === 200))).every(Boolean), 60_000, 50);
  return {
    supergraph,
    bus,
    url,
    jwtSecret,
    internalAuthSecret,
    kafkaNamespace,
    databaseUrl: (name) => dbs.get(name)!.url,
    gql: (query, variables, token) => postGraphQL(url, query, variables, token),
    tokenFor: async ({ userId = randomUUID(), roles = ['CUSTOMER'], sessionId = randomUUID(), expiresInSeconds = 900 }) =>
      (await new AccessTokenIssuer(jwtSecret, expiresInSeconds).issue({ userId, roles, sessionId })).token,
    stop: async () => {
      await supergraph.stop();
      await bus.close();
      await pool?.end();
      for (const db of dbs.values()) await db.drop();
    },
  };
}

/** Another gateway over the shop's subgraphs, with `settings` on top (a gateway restarted, another configuration); stop it after use. */
export function startAnotherGateway(shop: TestShop, settings: Partial<GatewaySettings> = {}): Promise<RunningGateway> {
  return startGateway({
    port: 0,
    subgraphUrls: Object.fromEntries(Object.entries(shop.supergraph.services).map(([name, s]) => [name, s.url])),
    internalAuthSecret: shop.internalAuthSecret,
    verifier: jwtVerifier(shop.jwtSecret),
    nodeEnv: 'test',
    logger: createLogger('gateway', 'silent'),
    ...settings,
  });
}

/** POSTs one GraphQL operation; answers the parsed body and the HTTP status. */
export async function postGraphQL<T = any>(url: string, query: string, variables?: Record<string, unknown>, token?: string | null): Promise<GraphQLResponse<T>> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as Omit<GraphQLResponse<T>, 'status'>;
  return { status: res.status, ...body };
}

/** The `extensions.code` of the first error (or undefined). */
export function errorCode(res: GraphQLResponse<unknown>): string | undefined {
  return res.errors?.[0]?.extensions?.['code'];
}
