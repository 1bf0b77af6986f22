/**
 * What a service is, for the platform: a typed module. A subgraph exports one
 * {@link ServiceDefinition} (`subgraphs/<name>/src/service.ts`); the platform parses its settings
 * once, builds its parts once with `setup`, and hands those parts to every other hook.
 *
 *   settings ─▶ setup(deps, settings) ─▶ parts ─▶ context · consumers · live · background · seed · routes
 */
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/resolverMap';
import type express from 'express';
import type { DocumentNode } from 'graphql';
import type { DataSource, EntityManager, EntitySchema, MigrationInterface } from 'typeorm';
import type { NodeEnv, SettingsOf, SettingsOverrides, SettingsShape, SettingsSpec } from '../config';
import type { EventBus } from '../events/bus';
import type { EventHandler, LiveHandler, LiveListenOptions } from '../events/consumers';
import type { Outbox } from '../events/outbox';
import type { QueryLimits } from '../http/query-limits';
import type { AuthContext, Identity } from '../identity';
import type { Logger } from '../logger';
import type { TlsClientOptions } from '../tls';
import type { VerifiedRequest } from '../internal-request';

/** What internal routes get from the platform (see `ServiceDefinition.routes`). */
export interface InternalRoutes {
  /** Verifies a signed internal request to this service: headers, method, path and the body's SHA-256 (`bodyDigest`). */
  readonly verify: (headers: Record<string, string | string[] | undefined>, method: string, path: string, digest: string) => VerifiedRequest;
}

/** What the platform gives a service's `setup` (and every hook after it). */
export interface ServiceDeps {
  readonly name: string;
  readonly logger: Logger;
  readonly nodeEnv: NodeEnv;
  readonly dataSource: DataSource;
  readonly bus: EventBus;
  readonly outbox: Outbox;
  /** Runs `fn` in one transaction, then wakes the outbox relay so its events go out at once. */
  transaction<T>(fn: (tx: EntityManager) => Promise<T>): Promise<T>;
  /**
   * Wakes the outbox relay: call it after a single autocommit statement (no `transaction`) wrote
   * outbox rows (see `outboxInsert`), so that its events go out at once rather than on the relay's
   * next poll.
   */
  wakeOutboxRelay(): void;
  /** Registers a live listener (every replica sees every event); stopped on shutdown. */
  listen(handlers: ReadonlyArray<LiveHandler<any>>, options?: LiveListenOptions): Promise<void>;
}

/** The context every resolver receives; services extend it through `context`. */
export interface RequestContext extends AuthContext {
  readonly identity: Identity | null;
  readonly deps: ServiceDeps;
  /** The caller's network address: as signed by the gateway, else the socket peer (for rate limits). */
  readonly clientAddress?: string;
  /**
   * In a subscription event's context: the published payload being delivered, the same object for
   * every subscription of this replica that receives it, so a service may share per-event reads
   * between them (orders: one set of DataLoaders per event, not one per subscription).
   */
  readonly liveEvent?: object;
}

/** Something a service runs while it is up (a worker, a sweeper); stopped on shutdown. */
export interface BackgroundJob {
  stop(): Promise<void>;
}

/**
 * Everything that makes one subgraph. `S` is its settings' shape, `P` the parts its `setup` builds
 * (repositories, domain services, workers, its live pub/sub), `C` its request context.
 */
export interface ServiceDefinition<S extends SettingsShape = SettingsShape, P = unknown, C extends RequestContext = RequestContext> {
  readonly name: string;
  readonly defaultPort: number;
  readonly typeDefs: DocumentNode;
  readonly resolvers: GraphQLResolverMap<C>;
  readonly entities: ReadonlyArray<EntitySchema<any>>;
  /** The service's own migrations, in order (the platform's outbox/inbox migration comes first). */
  readonly migrations: ReadonlyArray<new () => MigrationInterface>;
  /** Its own settings: environment variable names with their parsers and defaults (see `defineSettings`). */
  readonly settings: SettingsSpec<S>;
  /**
   * Its database pool's size when DB_POOL_MAX is not set (default DEFAULT_DB_POOL_MAX, 10): a
   * service whose requests hold a transaction across several statements (orders' carts and
   * checkout) needs more connections than one that reads.
   */
  readonly databasePoolMax?: number;
  /** Builds the service's parts, once per running instance, before anything else of it runs. */
  readonly setup: (deps: ServiceDeps, settings: SettingsOf<S>) => P | Promise<P>;
  /** Builds the per-request context (DataLoaders live here: built per request, and per subscription event). */
  readonly context: (base: RequestContext, parts: P) => C;
  /** Transactional event handlers (with the inbox); the consumer group is the service name. */
  readonly consumers?: (parts: P, deps: ServiceDeps) => ReadonlyArray<EventHandler<any>>;
  /**
   * The live handlers that feed the service's pub/sub (a part): with this hook the service serves
   * its `Subscription` fields over graphql-ws on its own port and path, for the gateway.
   */
  readonly live?: (parts: P) => ReadonlyArray<LiveHandler<any>>;
  /** Starts background jobs once the service is up. */
  readonly background?: (parts: P, deps: ServiceDeps) => ReadonlyArray<BackgroundJob>;
  /** Loads demo data when enabled (idempotent). */
  readonly seed?: (parts: P, deps: ServiceDeps) => Promise<void>;
  /**
   * Extra HTTP routes (e.g. a development mailbox). `internal.verify` checks a request signed for
   * this service as the gateway signs (internal-request.ts; throws UNAUTHENTICATED), for internal
   * service-to-service routes.
   */
  readonly routes?: (app: express.Express, parts: P, internal: InternalRoutes) => void;
}

/** Declares a service with its types inferred (settings, parts and context all flow from it). */
export function defineService<S extends SettingsShape, P, C extends RequestContext>(definition: ServiceDefinition<S, P, C>): ServiceDefinition<S, P, C> {
  return definition;
}

/** The platform's options of one running service (the standalone runner reads them from the environment). */
export interface ServiceOptions<S extends SettingsShape = SettingsShape> {
  /** HTTP port; 0 picks a free one. */
  readonly port: number;
  /** Interface to bind. Default 127.0.0.1 (Kubernetes sets HOST=0.0.0.0; see standaloneEnv). */
  readonly host?: string;
  readonly databaseUrl: string;
  /** TLS to the database (`postgresTls(settings)`); default none (the embedded, loopback Postgres). */
  readonly databaseTls?: TlsClientOptions | undefined;
  readonly bus: EventBus;
  /** Shared secret of the gateway's request signatures (see internal-request.ts): nothing else is answered on /graphql. */
  readonly internalAuthSecret: string;
  /** Query, body, time and answer-size limits. Default {@link DEFAULT_QUERY_LIMITS} (the gateway's). */
  readonly limits?: Partial<QueryLimits>;
  /** Longest lifetime of a gateway signature accepted. Default {@link DEFAULT_INTERNAL_REQUEST_MAX_TTL_SECONDS}. */
  readonly internalRequestMaxTtlSeconds?: number;
  /**
   * Follow users' session events to refuse identities of revoked sessions (docs/notes/security.md).
   * Default true.
   */
  readonly followRevocations?: boolean;
  /** Run pending migrations at start. Default true (Kubernetes runs them in a Job and sets false). */
  readonly runMigrations?: boolean;
  /** Load demo data at start. Default false. */
  readonly seed?: boolean;
  /** Default development. */
  readonly nodeEnv?: NodeEnv;
  readonly logger?: Logger;
  /** The service's own settings, typed by name; each wins over the environment variable of that name. */
  readonly settings?: SettingsOverrides<S>;
  /** Maximum time to drain in-flight work on stop. Default {@link DEFAULT_DRAIN_TIMEOUT_MS}. */
  readonly drainTimeoutMs?: number;
  /** Unique id of this replica (live listener groups). Default random. */
  readonly instanceId?: string;
  /**
   * The database pool: `max` connections, a query waits `acquireTimeoutMs` for one of an exhausted
   * pool (then SERVICE_UNAVAILABLE, retryable). Each wins over DB_POOL_MAX / DB_POOL_ACQUIRE_TIMEOUT_MS
   * of the environment ({@link databasePoolSettings}); the size's default is the definition's `databasePoolMax`.
   */
  readonly databasePool?: { readonly max?: number; readonly acquireTimeoutMs?: number };
}

/** How long a stopping service waits for in-flight requests by default. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;

export interface RunningService<P = unknown> {
  readonly name: string;
  readonly url: string;
  readonly port: number;
  readonly deps: ServiceDeps;
  /** What the service's `setup` built (tests reach its workers and repositories here). */
  readonly parts: P;
  stop(): Promise<void>;
}

/** The settings shape of a definition. */
export type SettingsShapeOf<D> = D extends ServiceDefinition<infer S, any, any> ? S : never;
/** The parts of a definition. */
export type PartsOf<D> = D extends ServiceDefinition<any, infer P, any> ? P : never;
