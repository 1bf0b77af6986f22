/**
 * The gateway's entity cache and stale-if-error, between @apollo/gateway's query plan and the
 * subgraphs (SubgraphDataSource.process calls {@link EntityCache.process} for every fetch).
 *
 * - An `_entities` fetch whose selection is public by the supergraph's cache hints (cache-hints.ts)
 *   is answered from the store for the representations it holds fresh; only the others are sent,
 *   and what comes back is stored per (service, selection, representation). A public root fetch
 *   (`products`, `product`, `categories`, `category`) is one entry per (service, operation, variables).
 * - Every entry knows the entities it was built from: its tags (`<service>:<Type>:<id>` for each
 *   entity the answer holds: the fetch's operation is sent with `__typename` and `id` on every
 *   entity object, cache-hints.ts), plus `list:<service>` when its membership may change with
 *   entities it does not hold (lists, searches, a lookup that found nothing). Whole answers
 *   (response-cache.plugin.ts) carry the tags of every fetch that built them.
 * - Fresh means: younger than the hint's maxAge (capped by the setting) and fetched after the
 *   last invalidation of each of its tags (cache-invalidations.ts marks them from the domain events).
 * - When a fetch fails (refused, reset, timed out, non-2xx, or a GraphQL answer without data), the
 *   last known values younger than the stale limit answer instead, each recorded for the response's
 *   `extensions.stale` (stale.plugin.ts); an entity with none answers SERVICE_UNAVAILABLE at its
 *   path (`retryable: true`). Stale-if-error works with the cache switched off too: the last known
 *   values are stored either way.
 * - The store failing (Redis away) never fails a request: the lookup counts as a miss.
 */
import { createHash } from 'node:crypto';
import type { GraphQLDataSourceProcessOptions, RemoteGraphQLDataSource } from '@apollo/gateway';
import type { DocumentNode, GraphQLFormattedError, GraphQLSchema } from 'graphql';
import { Kind, OperationTypeNode } from 'graphql';
import type { Logger } from '@shop/platform';
import { counter, serviceUnavailable } from '@shop/platform';
import type { CacheHints, FetchPolicy } from './cache-hints';
import type { CacheEntry, CacheStore, ReadEntry } from './cache-store';
import { ALL_TAG } from './cache-store';
import type { StaleAnswers } from './stale-answers';

/** The settings of the cache and of stale-if-error. */
export interface EntityCacheSettings {
  /** Serve fresh answers from the cache. Default true (needs the bus: without it, only stale-if-error). */
  readonly enabled?: boolean;
  /** Upper bound of every hint's maxAge, seconds (the TTL safety net). Default 300. */
  readonly maxAgeSeconds?: number;
  /** Oldest last known value stale-if-error may serve, seconds; 0 turns it off. Default 600. */
  readonly staleMaxAgeSeconds?: number;
  /** Entries of the in-process store (without Redis). Default 50 000. */
  readonly maxEntries?: number;
}

/** Defaults of {@link EntityCacheSettings}. */
export const DEFAULT_CACHE_SETTINGS = { enabled: true, maxAgeSeconds: 300, staleMaxAgeSeconds: 600, maxEntries: 50_000 } as const;

export { ALL_TAG } from './cache-store';
/** The `service` label of whole answers in the lookup metrics. */
const RESPONSES_SERVICE = 'gateway';

type Options = GraphQLDataSourceProcessOptions<Record<string, unknown>>;
/** A fetch of a client's operation (not a health check or schema load). */
type Incoming = Extract<Options, { incomingRequestContext: unknown }>;
type GatewayGraphQLResponse = Awaited<ReturnType<RemoteGraphQLDataSource['process']>>;
type Send = (options: Options) => Promise<GatewayGraphQLResponse>;
type Representation = Record<string, unknown> & { __typename?: unknown; id?: unknown };

/** A stored whole answer: the response body as sent (JSON text) and how long it is fresh. */
export interface StoredResponse {
  readonly body: string;
  readonly maxAgeMs: number;
  /** The `cache-control` header Apollo Server sent with it (from the same hints), if any. */
  readonly cacheControl?: string | undefined;
}

const lookups = counter({
  name: 'gateway_cache_lookups_total',
  help: 'Cacheable subgraph answers by service, type (entity typename, or Query for root fetches) and result: hit (fresh from the cache), miss (fetched), stale (last known value served while the subgraph failed), unavailable (failed, nothing to serve).',
  labelNames: ['service', 'type', 'result'],
});

/** The lookups of whole answers (every cached answer counts one: bound once). */
const responseLookups = { hit: lookups.labels({ service: RESPONSES_SERVICE, type: 'Response', result: 'hit' }), miss: lookups.labels({ service: RESPONSES_SERVICE, type: 'Response', result: 'miss' }) };

/** The entity cache of one gateway process (one per worker; the store may be shared). */
export class EntityCache {
  readonly settings: Required<EntityCacheSettings>;
  private hints: CacheHints | undefined;
  private readonly hashes = new WeakMap<DocumentNode, string>();
  /** Entries fetched before this (epoch ms) are never fresh: set when an invalidation could not be stored. */
  private distrustBefore = 0;
  /** Fresh answers are served only while invalidations are followed (see {@link follow}). */
  private following = false;
  /** The tags of every fetch of each request in flight (keyed by its context): what its whole answer was built from. */
  private readonly requestTags = new WeakMap<object, Set<string>>();

  constructor(
    readonly store: CacheStore,
    private readonly stale: StaleAnswers,
    settings: EntityCacheSettings = {},
    private readonly logger?: Logger,
  ) {
    this.settings = { ...DEFAULT_CACHE_SETTINGS, ...settings };
  }

  /** Retention of entries and marks: as long as either use of an entry may need it. */
  get retentionMs(): number {
    return Math.max(this.settings.maxAgeSeconds, this.settings.staleMaxAgeSeconds) * 1000;
  }

  /** Whether fresh answers are served now. */
  get serving(): boolean {
    return this.settings.enabled && this.following;
  }

  /** Takes the hints of a (new) supergraph. */
  useHints(hints: CacheHints): void {
    this.hints = hints;
  }

  /** Called by the invalidation feed: fresh answers are served only while it runs. */
  follow(following: boolean): void {
    this.following = following;
  }

  /**
   * Marks tags invalidated now (the entries and whole answers that hold them are outdated); if
   * the store cannot take it, distrusts everything older in this process.
   */
  async invalidate(tags: readonly string[]): Promise<void> {
    const at = Date.now();
    try {
      await this.store.invalidate(tags, at, this.retentionMs);
    } catch (error) {
      this.distrustBefore = Math.max(this.distrustBefore, at);
      this.logger?.warn({ err: error, tags: tags.length }, 'cache invalidation not stored: every cached answer of this process counts as outdated');
    }
  }

  /** How long a whole answer of a client operation stays fresh (ms), or null when it may not be cached. */
  operationMaxAgeMs(document: DocumentNode, schema: GraphQLSchema): number | null {
    return this.hints?.policyOf(document, schema, this.settings.maxAgeSeconds * 1000)?.maxAgeMs ?? null;
  }

  /** The store key of a whole answer (`queryHash`: sha256 hex of the operation text, as Apollo Server's). */
  responseKey(queryHash: string, operationName: string | null, variables: Record<string, unknown>): string {
    return digest(`response\n${queryHash}\n${operationName ?? ''}\n${JSON.stringify(variables)}`);
  }

  /** A fresh whole answer, or undefined. */
  async readResponse(key: string, now: number): Promise<StoredResponse | undefined> {
    const entries = await this.read([key], [ALL_TAG]);
    return this.freshResponse(entries?.[0], now);
  }

  /** The same, synchronously, when the store is this process's (the fast path); null: ask {@link readResponse}. */
  readResponseNow(key: string, now: number): StoredResponse | undefined | null {
    if (!('readNow' in this.store)) return null;
    return this.freshResponse((this.store as MemoryStoreLike).readNow([key], [ALL_TAG])[0], now);
  }

  private freshResponse(entry: ReadEntry | undefined, now: number): StoredResponse | undefined {
    const value = entry?.value as StoredResponse | undefined;
    const fresh = entry !== undefined && value !== undefined && this.isFresh(entry, value.maxAgeMs, now);
    (fresh ? responseLookups.hit : responseLookups.miss).inc();
    return fresh ? value : undefined;
  }

  /**
   * Keeps a complete whole answer whose execution started at `fetchedAt`, tagged with what its
   * fetches were built from; not when nothing was recorded for `context` (an answer shared by
   * request coalescing: the request that executed it keeps it).
   */
  async storeResponse(key: string, context: object, response: StoredResponse, fetchedAt: number): Promise<void> {
    const tags = this.requestTags.get(context);
    if (!tags) return;
    await this.write([[key, { value: response, fetchedAt, tags: [...tags] }]]);
  }

  private recordTags(context: object | undefined, service: string, tags: readonly string[]): void {
    if (!context) return;
    let set = this.requestTags.get(context);
    if (!set) this.requestTags.set(context, (set = new Set()));
    set.add(serviceTag(service));
    for (const tag of tags) set.add(tag);
  }

  /** Answers one subgraph fetch, from the cache where it may, falling back to stale values when `send` fails. */
  async process(service: string, options: Options, send: Send): Promise<GatewayGraphQLResponse> {
    // Neither fresh answers nor stale-if-error: nothing to look up or store.
    if (!this.serving && this.settings.staleMaxAgeSeconds <= 0) return send(options);
    if (!('incomingRequestContext' in options) || !options.document || !this.hints) return send(options);
    const operation = options.incomingRequestContext.operation?.operation;
    if (operation === 'mutation') {
      // The fetches that build a mutation's answer from other services (addToCart's and placeOrder's
      // products from catalog) are reads: fetched fresh, they outdate nothing. Marking their
      // services emptied catalog's whole cache on every cart change and checkout.
      if (!isMutation(options.document)) return send(options);
      // Read-your-writes: what the mutation's service answered before its commit is outdated for
      // every replica sharing the store now, not only once its events arrive.
      try {
        return await send(options);
      } finally {
        await this.invalidate([serviceTag(service)]);
      }
    }
    if (operation !== 'query') return send(options);
    const policy = this.hints.policyOf(options.document, options.incomingRequestContext.schema, this.settings.maxAgeSeconds * 1000, service);
    if (!policy) return send(options);
    const operationHash = this.hashOf(options);
    const variables = options.request.variables ?? {};
    const representations = policy.kind === 'entities' ? variables['representations'] : undefined;
    const lookup: Lookup =
      policy.kind === 'entities'
        ? Array.isArray(representations)
          ? entityLookup(service, operationHash, representations as Representation[])
          : { keys: [], tags: [], types: [] }
        : { keys: [digest(`${service}\n${operationHash}\n${JSON.stringify(variables)}`)], tags: [], types: ['Query'] };
    if (lookup.keys.length === 0) return send(options);
    // Sent with `__typename` and `id` on every entity object: the answer names what it holds.
    const tagged = { ...options, request: { ...options.request, query: policy.query } } as Incoming;
    return this.answer(service, tagged, send, policy, lookup);
  }

  /** The tags of one answer of a fetch: the entities it holds, and its service's lists when its membership may change. */
  private tagsOf(service: string, policy: FetchPolicy, value: unknown, own: string | undefined): string[] {
    const tags = new Set<string>();
    if (own) tags.add(own);
    collectEntities(service, value, tags, 0);
    let list = policy.lists;
    if (!list && policy.kind === 'root') {
      // A root answer depends on its entities alone only if every field of it looked one up and found it.
      const root = value as Record<string, unknown> | null;
      list = policy.fields.some((f) => !policy.lookups.has(f) || root === null || typeof root[f] !== 'object' || root[f] === null);
    }
    if (list) tags.add(listTag(service));
    return [...tags];
  }

  private async answer(service: string, options: Incoming, send: Send, policy: FetchPolicy, lookup: Lookup): Promise<GatewayGraphQLResponse> {
    const { maxAgeMs, fields, kind } = policy;
    const started = Date.now();
    const count = lookup.keys.length;
    let read = this.serving ? await this.read(lookup.keys, service) : undefined;
    const values: unknown[] = new Array<unknown>(count).fill(null);
    const missing: number[] = [];
    const hitTags: string[] = [];
    for (let i = 0; i < count; i++) {
      const entry = read?.[i];
      if (entry && this.isFresh(entry, maxAgeMs, started)) {
        values[i] = entry.value;
        hitTags.push(...entry.tags);
        lookups.inc({ service, type: lookup.types[i] ?? 'unknown', result: 'hit' });
      } else missing.push(i);
    }
    this.recordTags(options.context, service, hitTags);
    const wrap = (payload: unknown[]): Record<string, unknown> => (kind === 'entities' ? { _entities: payload } : (payload[0] as Record<string, unknown>));
    if (missing.length === 0) return { data: wrap(values) };

    let response: GatewayGraphQLResponse | undefined;
    let failure: unknown;
    try {
      response = await send(kind === 'entities' && missing.length < count ? withRepresentations(options, missing.map((i) => lookup.representations?.[i])) : options);
    } catch (error) {
      failure = error;
    }
    const received = response ? (kind === 'entities' ? (response.data?.['_entities'] as unknown[] | undefined) : response.data) : undefined;
    if (!response || received === undefined || received === null || (kind === 'entities' && (!Array.isArray(received) || received.length !== missing.length))) {
      // Nothing usable came back: the last known values, where there are some.
      if (this.settings.staleMaxAgeSeconds <= 0) return rethrow(failure, response);
      read ??= await this.read(lookup.keys, service);
      const errors: GraphQLFormattedError[] = [];
      let served = count - missing.length;
      for (const i of missing) {
        const entry = read?.[i];
        const type = lookup.types[i] ?? 'unknown';
        if (entry && started - entry.fetchedAt <= this.settings.staleMaxAgeSeconds * 1000) {
          values[i] = entry.value;
          served++;
          lookups.inc({ service, type, result: 'stale' });
          this.stale.record(options.context, { service, at: options.pathInIncomingRequest ?? [], entityIndex: kind === 'entities' ? i : undefined, fields, ageSeconds: Math.round((started - entry.fetchedAt) / 1000) });
        } else {
          lookups.inc({ service, type, result: 'unavailable' });
          errors.push(unavailable(service, kind === 'entities' ? ['_entities', i, ...fields.slice(0, 1)] : undefined));
        }
      }
      // Each entity that cannot be served answers SERVICE_UNAVAILABLE at its own path (the gateway
      // maps `_entities.<i>` to it); a root fetch with nothing to serve fails as it did.
      if (served === 0 && kind === 'root') return rethrow(failure, response);
      return { data: wrap(values), ...(errors.length ? { errors } : {}) };
    }

    // Fetched: store what came back whole, and answer it merged with the hits.
    const answered = kind === 'entities' ? (received as unknown[]) : [received];
    const failed = new Set<number>();
    for (const e of response.errors ?? []) {
      if (kind === 'root') failed.add(0);
      else if (e.path?.[0] === '_entities' && typeof e.path[1] === 'number') failed.add(e.path[1]);
      else for (let j = 0; j < missing.length; j++) failed.add(j);
    }
    const writes: Array<readonly [string, CacheEntry]> = [];
    const fetchedTags: string[] = [];
    missing.forEach((original, j) => {
      const value = answered[j];
      values[original] = value ?? null;
      lookups.inc({ service, type: lookup.types[original] ?? 'unknown', result: 'miss' });
      const tags = this.tagsOf(service, policy, value ?? null, lookup.tags[original]);
      fetchedTags.push(...tags);
      if (value !== null && value !== undefined && !failed.has(j)) writes.push([lookup.keys[original] ?? '', { value, fetchedAt: started, tags }]);
    });
    this.recordTags(options.context, service, fetchedTags);
    void this.write(writes);
    if (kind === 'root') return response;
    const errors = response.errors?.map((e) => (e.path?.[0] === '_entities' && typeof e.path[1] === 'number' ? { ...e, path: ['_entities', missing[e.path[1]] ?? e.path[1], ...e.path.slice(2)] } : e));
    return { ...response, data: { ...response.data, _entities: values }, ...(errors ? { errors } : {}) };
  }

  private isFresh(entry: ReadEntry, maxAgeMs: number, now: number): boolean {
    return now - entry.fetchedAt < maxAgeMs && entry.fetchedAt > this.distrustBefore && entry.fetchedAt > entry.outdatedAt;
  }

  /** Entries by key, checked against the global mark, and a service's (its mutations) when given. */
  private async read(keys: readonly string[], service: string | readonly string[]): Promise<ReadonlyArray<ReadEntry | undefined> | undefined> {
    try {
      return await this.store.read(keys, typeof service === 'string' ? [serviceTag(service), ALL_TAG] : service);
    } catch (error) {
      this.storeFailed(error);
      return undefined;
    }
  }

  private async write(entries: ReadonlyArray<readonly [string, CacheEntry]>): Promise<void> {
    try {
      await this.store.write(entries, this.retentionMs);
    } catch (error) {
      this.storeFailed(error);
    }
  }

  /** Logs a store failure at most once per 10 s (every request would fail while Redis is away). */
  private storeFailed(error: unknown): void {
    const now = Date.now();
    if (now - this.lastStoreWarning < 10_000) return;
    this.lastStoreWarning = now;
    this.logger?.warn({ err: error }, 'cache store unavailable: answering without it until it is back');
  }

  private lastStoreWarning = 0;

  /** The fetch's operation text and its variables other than the representations, hashed once per plan document. */
  private hashOf(options: Incoming): string {
    const document = options.document;
    if (!document) return digest(options.request.query ?? '');
    let hash = this.hashes.get(document);
    if (!hash) {
      hash = digest(options.request.query ?? '');
      this.hashes.set(document, hash);
    }
    const { representations: _ignored, ...others } = options.request.variables ?? {};
    return Object.keys(others).length ? digest(`${hash}\n${JSON.stringify(others)}`) : hash;
  }
}

/** The keys, tags and types of a lookup, one per answer (representation, or the root answer). */
interface Lookup {
  readonly keys: readonly string[];
  readonly tags: readonly string[];
  readonly types: readonly string[];
  readonly representations?: readonly Representation[];
}

function entityLookup(service: string, operationHash: string, representations: readonly Representation[]): Lookup {
  const keys: string[] = [];
  const tags: string[] = [];
  const types: string[] = [];
  for (const representation of representations) {
    const type = String(representation.__typename);
    // The common representation, `{ __typename, id }`, keys by its id as is: no serialisation or
    // hash per entity on the hot path. Anything richer (@requires fields) is hashed whole.
    const plain = typeof representation.id === 'string' && Object.keys(representation).length === 2;
    keys.push(plain ? `${service}:${operationHash}:${type}:${String(representation.id)}` : digest(`${service}\n${operationHash}\n${JSON.stringify(representation)}`));
    tags.push(entityTag(service, type, representation.id));
    types.push(type);
  }
  return { keys, tags, types, representations };
}

function withRepresentations(options: Options, representations: ReadonlyArray<Representation | undefined>): Options {
  return { ...options, request: { ...options.request, variables: { ...options.request.variables, representations } } } as Options;
}

/** Whether a subgraph fetch's own operation is a mutation (the plan's fetch of mutation fields, not its `_entities` reads). */
function isMutation(document: DocumentNode): boolean {
  return document.definitions.some((d) => d.kind === Kind.OPERATION_DEFINITION && d.operation === OperationTypeNode.MUTATION);
}

/** The tag of everything a service answered (marked by every mutation sent to it). */
export function serviceTag(service: string): string {
  return `svc:${service}`;
}

/** The tag of what `service` answered about one entity (`catalog:Product:<id>`). */
export function entityTag(service: string, type: string, id: unknown): string {
  // Tags are stored one per line: a newline in an id would split it (outdating more, never less).
  return `${service}:${type}:${String(id).replace(/[\n\r]/g, ' ')}`;
}

/** The tag of the lists and searches of a service (their membership changes with any of its entities). */
export function listTag(service: string): string {
  return `list:${service}`;
}

/** Adds the tag of every entity object (`__typename` and `id`) in a subgraph's answer. */
function collectEntities(service: string, value: unknown, tags: Set<string>, depth: number): void {
  if (value === null || typeof value !== 'object' || depth > 64) return;
  if (Array.isArray(value)) {
    for (const item of value) collectEntities(service, item, tags, depth + 1);
    return;
  }
  const record = value as Record<string, unknown>;
  const type = record['__typename'];
  const id = record['id'];
  if (typeof type === 'string' && (typeof id === 'string' || typeof id === 'number')) tags.add(entityTag(service, type, id));
  for (const key in record) {
    const inner = record[key];
    if (inner !== null && typeof inner === 'object') collectEntities(service, inner, tags, depth + 1);
  }
}

/** The synchronous read of the in-process store. */
interface MemoryStoreLike {
  readNow(keys: readonly string[], alwaysTags: readonly string[]): Array<ReadEntry | undefined>;
}

function digest(text: string): string {
  return createHash('sha1').update(text).digest('base64url');
}

function unavailable(service: string, path: Array<string | number> | undefined): GraphQLFormattedError {
  const error = serviceUnavailable(`The ${service} service is unavailable and has no recent answer for this; retry in a moment.`, { service });
  return { message: error.message, extensions: error.extensions, ...(path ? { path } : {}) };
}

/** What a failed fetch answers when nothing can stand in for it: the failure itself, or the subgraph's answer. */
function rethrow(failure: unknown, response: GatewayGraphQLResponse | undefined): GatewayGraphQLResponse {
  if (response && failure === undefined) return response;
  throw failure;
}
