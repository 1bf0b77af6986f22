import os from 'node:os';
import { z } from 'zod';
import { DEFAULT_DRAIN_TIMEOUT_MS, DEFAULT_INTERNAL_REQUEST_TTL_SECONDS, env, kafkaNamespaceSetting, kafkaSecuritySettings } from '@shop/platform';
import { DEFAULT_REDIS_KEY_PREFIX } from './cache/cache-store';
import { DEFAULT_CACHE_SETTINGS } from './cache/entity-cache';
import type { GatewaySettings } from './gateway';
import { PERSISTED_OPERATION_MODES } from './persisted-operations';
import { DEFAULT_EXEMPT_ADDRESSES } from './rate-limits';
import { DEFAULT_GATEWAY_EXECUTOR, GATEWAY_EXECUTORS } from './execution/own-executor';

/**
 * The settings of the gateway's edge (rate budgets, their Redis, the safelist), read by the gateway
 * alone (main.ts) and by `npm start` (scripts/start.ts).
 */
export const edgeEnv = {
  /** redis:// (or rediss://) URL of the store the rate budgets of all replicas share. Unset: counters in this process. */
  REDIS_URL: z.string().regex(/^rediss?:\/\/.+/, 'expected a redis:// or rediss:// URL').optional(),
  /**
   * Prefix of every key the gateway keeps in REDIS_URL (entity cache, rate budgets): one per
   * deployment, so that shops (or staging and production) sharing one Redis never read each
   * other's entries. Replicas of one shop share it. Default `shop:`.
   */
  REDIS_KEY_PREFIX: z.string().min(1).max(100).regex(/^[^\s]+$/, 'expected no whitespace').default(DEFAULT_REDIS_KEY_PREFIX),
  /** Rate limiting on or off. Default true. */
  RATE_LIMIT_ENABLED: env.bool(true),
  /** Window of every budget, seconds. Default 60. */
  RATE_LIMIT_WINDOW_SECONDS: env.int(60, 1),
  /** Requests per window per anonymous client address (IPv6: per /64). Default 100. */
  RATE_LIMIT_ANONYMOUS_REQUESTS: env.int(100, 1),
  /** Requests per window per signed-in user. Default 600. */
  RATE_LIMIT_USER_REQUESTS: env.int(600, 1),
  /** Mutations per window per caller. Default 60. */
  RATE_LIMIT_MUTATIONS: env.int(60, 1),
  /** Cost points (the query limits' estimate, operationCost; one operation costs at most 20 000) per window per caller. Default 100000. */
  RATE_LIMIT_COST: env.int(100_000, 1),
  /** Comma-separated addresses/CIDRs never limited; empty for none. Default loopback (127.0.0.0/8,::1/128). */
  RATE_LIMIT_EXEMPT_ADDRESSES: z
    .string()
    .default(DEFAULT_EXEMPT_ADDRESSES.join(','))
    .transform((s) => s.split(',').map((a) => a.trim()).filter(Boolean)),
  /** Persisted operations: off, allow or require. Default off. */
  PERSISTED_OPERATIONS_MODE: z.enum(PERSISTED_OPERATION_MODES).default('off'),
  /** The safelist: an Apollo persisted-query manifest file, or a directory of them. Required for allow and require. */
  PERSISTED_OPERATIONS_MANIFEST: z.string().min(1).optional(),
  /** Serve public entity data (cache hints in the subgraph SDLs) from the gateway's cache, invalidated by domain events. Default true. */
  GATEWAY_CACHE_ENABLED: env.bool(DEFAULT_CACHE_SETTINGS.enabled),
  /** Upper bound of every cache hint's maxAge (the TTL safety net), seconds. Default 300. */
  GATEWAY_CACHE_MAX_AGE_SECONDS: env.int(DEFAULT_CACHE_SETTINGS.maxAgeSeconds, 1),
  /** Oldest last known value served (flagged in extensions.stale) when a subgraph fails, seconds; 0: off. Default 600. */
  GATEWAY_STALE_MAX_AGE_SECONDS: env.int(DEFAULT_CACHE_SETTINGS.staleMaxAgeSeconds, 0),
  /** Entries of the in-process cache store (used without REDIS_URL). Default 50000. */
  GATEWAY_CACHE_MAX_ENTRIES: env.int(DEFAULT_CACHE_SETTINGS.maxEntries, 100),
  /** Longest wait for a subgraph's answer, ms (then SERVICE_UNAVAILABLE, or stale values). Default 10000. */
  GATEWAY_SUBGRAPH_TIMEOUT_MS: env.int(10_000, 100),
  /** Request coalescing: identical concurrent anonymous queries share one execution. Default true. */
  GATEWAY_COALESCING: env.bool(true),
  /** Executor of the query plans: `apollo` (@apollo/gateway's) or `own` (gateway/src/execution/, the same answers at less CPU). Default own. */
  GATEWAY_EXECUTOR: z.enum(GATEWAY_EXECUTORS).default(DEFAULT_GATEWAY_EXECUTOR),
};

/** The gateway settings of the edge from their parsed environment variables. */
export function edgeSettings(cfg: z.infer<z.ZodObject<typeof edgeEnv>>): Pick<GatewaySettings, 'rateLimits' | 'redisUrl' | 'redisKeyPrefix' | 'persistedOperations' | 'cache' | 'subgraphTimeoutMs' | 'coalescing' | 'executor'> {
  return {
    cache: { enabled: cfg.GATEWAY_CACHE_ENABLED, maxAgeSeconds: cfg.GATEWAY_CACHE_MAX_AGE_SECONDS, staleMaxAgeSeconds: cfg.GATEWAY_STALE_MAX_AGE_SECONDS, maxEntries: cfg.GATEWAY_CACHE_MAX_ENTRIES },
    subgraphTimeoutMs: cfg.GATEWAY_SUBGRAPH_TIMEOUT_MS,
    ...(cfg.REDIS_URL ? { redisUrl: cfg.REDIS_URL } : {}),
    redisKeyPrefix: cfg.REDIS_KEY_PREFIX,
    rateLimits: {
      enabled: cfg.RATE_LIMIT_ENABLED,
      windowSeconds: cfg.RATE_LIMIT_WINDOW_SECONDS,
      anonymousRequests: cfg.RATE_LIMIT_ANONYMOUS_REQUESTS,
      userRequests: cfg.RATE_LIMIT_USER_REQUESTS,
      mutations: cfg.RATE_LIMIT_MUTATIONS,
      cost: cfg.RATE_LIMIT_COST,
      exemptAddresses: cfg.RATE_LIMIT_EXEMPT_ADDRESSES,
    },
    persistedOperations: { mode: cfg.PERSISTED_OPERATIONS_MODE, ...(cfg.PERSISTED_OPERATIONS_MANIFEST ? { manifest: cfg.PERSISTED_OPERATIONS_MANIFEST } : {}) },
    coalescing: { enabled: cfg.GATEWAY_COALESCING },
    executor: cfg.GATEWAY_EXECUTOR,
  };
}

/** Settings the gateway reads from its environment. */
export const gatewayEnv = {
  NODE_ENV: env.nodeEnv(),
  PORT: env.port(4000),
  USERS_URL: env.url().default('http://127.0.0.1:4001/graphql'),
  CATALOG_URL: env.url().default('http://127.0.0.1:4002/graphql'),
  INVENTORY_URL: env.url().default('http://127.0.0.1:4003/graphql'),
  ORDERS_URL: env.url().default('http://127.0.0.1:4004/graphql'),
  INTERNAL_AUTH_SECRET: env.secret(32),
  JWT_SECRET: env.secret(32),
  /** Longest access token lifetime accepted (`exp - iat`), in seconds. Default 3600 (users issues 900). */
  JWT_MAX_LIFETIME_SECONDS: env.int(3600, 60),
  /** Clock difference tolerated for an access token's `iat` in the future, in seconds. Default 30. */
  JWT_CLOCK_SKEW_SECONDS: env.int(30, 0),
  /** Lifetime of the gateway's signature on each subgraph request, in seconds. Default 10. */
  INTERNAL_REQUEST_TTL_SECONDS: env.int(DEFAULT_INTERNAL_REQUEST_TTL_SECONDS, 1),
  GATEWAY_POLL_SUBGRAPHS: env.bool(false),
  DRAIN_TIMEOUT_MS: env.int(DEFAULT_DRAIN_TIMEOUT_MS),
  /**
   * Gateway worker processes sharing the port (cluster.ts), one per core by default
   * (os.availableParallelism()); 1 runs the gateway in this process. Kubernetes sets 1 (one worker
   * per pod, docs/notes/k8s.md).
   */
  GATEWAY_WORKERS: env.int(os.availableParallelism(), 1),
  /** Interface to bind. Default 127.0.0.1; Kubernetes sets 0.0.0.0 (k8s/base/gateway/config.env). */
  HOST: env.string('127.0.0.1'),
  /** Kafka brokers: the gateway follows users' session events to refuse revoked sessions. Required. */
  KAFKA_BROKERS: env.brokers(),
  /** Prefix (`<namespace>.`) of the topics and consumer groups: the subgraphs' KAFKA_NAMESPACE (several shops on one Kafka). Default none. */
  KAFKA_NAMESPACE: kafkaNamespaceSetting,
  /** Proxies in front of the gateway whose X-Forwarded-For is trusted for the client address. Default 0 (the socket peer). */
  TRUST_PROXY_HOPS: env.int(0),
  /**
   * A directory holding GraphiQL's prebuilt browser bundle (`node --import tsx
   * gateway/src/graphiql/bundle.main.ts <dir>` writes one; the image has one at /app/graphiql and
   * sets this): served as it is, without esbuild; the gateway stops at start when the directory
   * holds no complete bundle of its sources. Default unset: built at run time, cached in
   * <checkout>/.cache/graphiql (in memory where that cannot be written).
   */
  GRAPHIQL_BUNDLE_DIR: z.string().min(1).optional(),
  /** TLS and SASL/SCRAM to Kafka (KAFKA_SECURITY_PROTOCOL, KAFKA_SSL_CA_FILE, KAFKA_SASL_USERNAME, …); default plaintext. */
  ...kafkaSecuritySettings.shape,
  ...edgeEnv,
};
