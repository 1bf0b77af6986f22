/**
 * The gateways the benchmark compares, each started in-process on one port over the same
 * supergraph (gateway.process.ts runs one of them per process):
 *
 * - `ours`: the real gateway module (`startGateway`), as main.ts starts it: JWT verifier with the
 *   revocation deny list and its plugin, graphql-armor, metrics, the HTTP-answers plugins, signed
 *   identity headers to subgraphs, graphql-ws subscriptions attached; only Kafka is absent (the
 *   deny list then follows no topic, which changes nothing per request).
 * - `apollo`: vanilla `@apollo/gateway` + `@apollo/server` (standalone server), no plugins.
 * - `hive-js`: `@graphql-hive/gateway` with its default (JavaScript, stitching) planner.
 * - `hive-rust`: the same with the Rust query-planner runtime (`@graphql-hive/router-runtime`, the
 *   CLI's `--hive-router-runtime`), with its upstream (in-flight) deduplication, on by default.
 * - `hive-rust-nodedupe`: the Rust runtime with `deduplicateInflightRequests: false`, so that it
 *   sends as many subgraph requests per request as the others.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { GatewaySettings } from '@shop/gateway';
import { cachedGatewaySettings } from './cached';

export const GATEWAY_KINDS = ['ours', 'apollo', 'hive-js', 'hive-rust', 'hive-rust-nodedupe'] as const;
/**
 * More of ours, for the other scenarios (scenarios.ts): `ours-own` with the own executor of the query
 * plans (GATEWAY_EXECUTOR=own, the default, gateway/src/execution/; `ours` runs @apollo/gateway's, the baseline); `ours-nocoalesce` with request coalescing
 * off; `ours-workers` as a cluster of one worker per core (gateway/src/cluster.ts, as main.ts runs
 * it with GATEWAY_WORKERS), not pinned; `ours-cached` with the entity cache on and the own executor, as shipped (cached.ts).
 */
export const MORE_KINDS = ['ours-own', 'ours-nocoalesce', 'ours-workers', 'ours-cached'] as const;
/**
 * Every kind: also `ours-baseline`, ours as of another commit (`--baseline <rev>`), for before/after
 * figures of a change, and `ours-cached-baseline`, the same with the entity cache on (what
 * `--baseline` adds to a scenario that runs `ours-cached`).
 */
export type GatewayKind = (typeof GATEWAY_KINDS)[number] | (typeof MORE_KINDS)[number] | 'ours-baseline' | 'ours-cached-baseline';
/** Whether a kind runs ours as of the baseline commit. */
export const isBaseline = (kind: GatewayKind): boolean => kind === 'ours-baseline' || kind === 'ours-cached-baseline';
/** Whether a kind is our gateway (it verifies access tokens: the load generator signs real ones). */
export const isOurs = (kind: GatewayKind): boolean => kind.startsWith('ours');

/** What each kind is, for the table. */
export const GATEWAY_LABELS: Readonly<Record<GatewayKind, string>> = {
  ours: 'ours (@shop/gateway), apollo executor',
  'ours-cached': 'ours, own executor, cache on',
  'ours-baseline': 'ours, baseline commit',
  'ours-cached-baseline': 'ours, baseline, cache on',
  'ours-own': 'ours, own executor',
  'ours-nocoalesce': 'ours, coalescing off',
  'ours-workers': 'ours, one worker per core',
  apollo: 'vanilla @apollo/gateway',
  'hive-js': 'Hive Gateway, JS planner',
  'hive-rust': 'Hive Gateway, Rust runtime',
  'hive-rust-nodedupe': 'Hive, Rust, no dedup',
};

export interface GatewayStartOptions {
  readonly kind: GatewayKind;
  readonly port: number;
  readonly host: string;
  readonly supergraphFile: string;
  /** The subgraphs' URLs by name (the supergraph routes to them too; ours takes them as overrides, as in production). */
  readonly subgraphUrls: Readonly<Record<string, string>>;
  /** Secret of the access tokens (ours verifies them) and of the internal signatures. */
  readonly secret: string;
  /** `ours-baseline`: a directory holding the baseline commit's gateway/ (its src/ is loaded instead of @shop/gateway). */
  readonly baselineDir?: string | undefined;
}

export interface StartedGateway {
  readonly url: string;
  stop(): Promise<void>;
}

export async function startBenchGateway(o: GatewayStartOptions): Promise<StartedGateway> {
  process.env['APOLLO_TELEMETRY_DISABLED'] = 'true';
  switch (o.kind) {
    case 'ours':
    case 'ours-baseline':
    case 'ours-nocoalesce':
    case 'ours-workers':
      return startOurs(o);
    case 'ours-cached':
      // As shipped: the own executor (the default), like the cached scenario's uncached row.
      return startOurs(o, { ...cachedGatewaySettings(), executor: 'own' });
    case 'ours-cached-baseline':
      return startOurs(o, cachedGatewaySettings());
    case 'ours-own':
      return startOurs(o, { executor: 'own' });
    case 'apollo':
      return startVanillaApollo(o);
    default:
      return startHive(o);
  }
}

async function startOurs(o: GatewayStartOptions, extra: Partial<GatewaySettings> = {}): Promise<StartedGateway> {
  // The baseline's sources resolve their own imports (@shop/platform, node_modules) from this checkout.
  const from = isBaseline(o.kind) && o.baselineDir ? path.join(o.baselineDir, 'gateway/src') : undefined;
  const { jwtVerifier, SessionRevocations, startGateway } = (await import(from ? path.join(from, 'index.ts') : '@shop/gateway')) as typeof import('@shop/gateway');
  const { attachSubscriptions } = (await import(from ? path.join(from, 'subscriptions/index.ts') : '@shop/gateway/subscriptions')) as typeof import('@shop/gateway/subscriptions');
  const { createLogger } = await import('@shop/platform');
  const revocations = new SessionRevocations();
  const gateway = await startGateway({
    port: o.port,
    host: o.host,
    subgraphUrls: o.subgraphUrls,
    supergraphFile: o.supergraphFile,
    internalAuthSecret: o.secret,
    verifier: jwtVerifier(o.secret, revocations),
    revocations,
    nodeEnv: 'production',
    logger: createLogger('gateway', process.env['LOG_LEVEL'] ?? 'warn'),
    attach: attachSubscriptions({ internalAuthSecret: o.secret }),
    coalescing: { enabled: o.kind !== 'ours-nocoalesce' },
    // Every row of ours but `ours-own` runs @apollo/gateway's executor (the baseline the own executor is
    // measured against, and what the other scenarios were measured with), whatever GATEWAY_EXECUTOR says; a baseline commit its own default.
    ...(isBaseline(o.kind) ? {} : { executor: 'apollo' as const }),
    ...extra,
  });
  return { url: gateway.url, stop: () => gateway.stop() };
}

async function startVanillaApollo(o: GatewayStartOptions): Promise<StartedGateway> {
  const { readFileSync } = await import('node:fs');
  const { ApolloGateway } = await import('@apollo/gateway');
  const { ApolloServer } = await import('@apollo/server');
  const { startStandaloneServer } = await import('@apollo/server/standalone');
  const server = new ApolloServer({ gateway: new ApolloGateway({ supergraphSdl: readFileSync(o.supergraphFile, 'utf8') }) });
  const { url } = await startStandaloneServer(server, { listen: { port: o.port, host: o.host } });
  return { url: new URL('/graphql', url).toString(), stop: () => server.stop() };
}

async function startHive(o: GatewayStartOptions): Promise<StartedGateway> {
  const { createGatewayRuntime } = await import('@graphql-hive/gateway');
  const rust = o.kind === 'hive-rust' || o.kind === 'hive-rust-nodedupe';
  const { unifiedGraphHandler } = rust ? await import('@graphql-hive/router-runtime') : { unifiedGraphHandler: undefined };
  const runtime = createGatewayRuntime({
    supergraph: o.supergraphFile,
    logging: false,
    ...(unifiedGraphHandler ? { unifiedGraphHandler } : {}),
    ...(o.kind === 'hive-rust-nodedupe' ? { transportEntries: { '*.http': { options: { deduplicateInflightRequests: false } } } } : {}),
  });
  const server = http.createServer(runtime);
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${o.host}:${port}/graphql`,
    stop: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await runtime.dispose();
    },
  };
}
