/**
 * Where the gateway keeps the answers of subgraph fetches: in this process (`npm start`, a
 * bounded LRU) or in Redis (`REDIS_URL`, shared by every replica and worker).
 *
 * Invalidation is a mark per tag (an entity of one service, e.g. `inventory:Product:p1`, or the
 * root lists of a service, `root:catalog`): the time the event that changed it was delivered.
 * An entry is fresh only if its fetch started after every mark of its tags, so a fetch that raced
 * an event (started before, stored after) never counts as fresh. Entries are kept after a mark,
 * as the last known value that stale-if-error may still serve (flagged) when the subgraph is down.
 */
import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';

/** One stored answer: a subgraph's value and the time its fetch started. */
export interface CacheEntry {
  readonly value: unknown;
  /** Epoch milliseconds at which the fetch that produced it started. */
  readonly fetchedAt: number;
}

/** What a lookup reads: the entries by key and, per tag, the time of its last invalidation. */
export interface CacheRead {
  readonly entries: ReadonlyArray<CacheEntry | undefined>;
  readonly marks: ReadonlyMap<string, number>;
}

/** The store port: one in-memory adapter, one Redis adapter. */
export interface CacheStore {
  readonly kind: 'memory' | 'redis';
  read(keys: readonly string[], tags: readonly string[]): Promise<CacheRead>;
  write(entries: ReadonlyArray<readonly [string, CacheEntry]>, ttlMs: number): Promise<void>;
  /** Marks `tags` invalidated at `atMs` (kept `ttlMs`, as long as any entry they may outdate). */
  invalidate(tags: readonly string[], atMs: number, ttlMs: number): Promise<void>;
}

/** The in-process store: an LRU of entries (at most `maxEntries`, default 50 000) and one of marks. */
export class MemoryCacheStore implements CacheStore {
  readonly kind = 'memory';
  private readonly entries: LRUCache<string, CacheEntry>;
  private readonly marks: LRUCache<string, number>;

  constructor(maxEntries = 50_000) {
    this.entries = new LRUCache({ max: maxEntries });
    // Marks are small, so there is room for more of them than entries; a mark pushed out by newer
    // ones must not make what it outdated fresh again, so its time moves to the global mark.
    this.marks = new LRUCache({
      max: maxEntries * 4,
      dispose: (at, _tag, reason) => {
        if (reason === 'evict') this.evictedMark = Math.max(this.evictedMark, at);
      },
    });
  }

  /** The latest mark the LRU pushed out: everything fetched before it counts as outdated. */
  private evictedMark = 0;

  read(keys: readonly string[], tags: readonly string[]): Promise<CacheRead> {
    const marks = new Map<string, number>();
    for (const tag of tags) {
      const at = tag === '*' ? Math.max(this.marks.get(tag) ?? 0, this.evictedMark) : this.marks.get(tag);
      if (at) marks.set(tag, at);
    }
    return Promise.resolve({ entries: keys.map((k) => this.entries.get(k)), marks });
  }

  write(entries: ReadonlyArray<readonly [string, CacheEntry]>, ttlMs: number): Promise<void> {
    for (const [key, entry] of entries) this.entries.set(key, entry, { ttl: ttlMs });
    return Promise.resolve();
  }

  invalidate(tags: readonly string[], atMs: number, ttlMs: number): Promise<void> {
    for (const tag of tags) if ((this.marks.get(tag) ?? 0) < atMs) this.marks.set(tag, atMs, { ttl: ttlMs });
    return Promise.resolve();
  }
}

/** Raises a mark to ARGV[1] unless it is already later; keeps it ARGV[2] ms. */
const RAISE_MARK = `
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
return 0`;

/** Default deployment prefix of the gateway's Redis keys (REDIS_KEY_PREFIX). */
export const DEFAULT_REDIS_KEY_PREFIX = 'shop:';

/**
 * The shared store: entries `<prefix>gateway:cache:e:<key>` (JSON), marks
 * `<prefix>gateway:cache:m:<tag>` (epoch ms). The prefix is the deployment's (REDIS_KEY_PREFIX):
 * two shops, or a staging and a production gateway, sharing one Redis never read each other's
 * entries nor outdate each other's with their marks.
 */
export class RedisCacheStore implements CacheStore {
  readonly kind = 'redis';
  private readonly entryPrefix: string;
  private readonly markPrefix: string;

  constructor(
    private readonly redis: Redis,
    keyPrefix = DEFAULT_REDIS_KEY_PREFIX,
  ) {
    this.entryPrefix = `${keyPrefix}gateway:cache:e:`;
    this.markPrefix = `${keyPrefix}gateway:cache:m:`;
  }

  async read(keys: readonly string[], tags: readonly string[]): Promise<CacheRead> {
    if (keys.length === 0) return { entries: [], marks: new Map() };
    // One round trip: entries and marks together.
    const values = await this.redis.mget(...keys.map((k) => this.entryPrefix + k), ...tags.map((t) => this.markPrefix + t));
    const entries = values.slice(0, keys.length).map((v) => (v === null ? undefined : (JSON.parse(v) as CacheEntry)));
    const marks = new Map<string, number>();
    tags.forEach((tag, i) => {
      const v = values[keys.length + i];
      if (v !== null && v !== undefined) marks.set(tag, Number(v));
    });
    return { entries, marks };
  }

  async write(entries: ReadonlyArray<readonly [string, CacheEntry]>, ttlMs: number): Promise<void> {
    if (entries.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const [key, entry] of entries) pipeline.set(this.entryPrefix + key, JSON.stringify(entry), 'PX', ttlMs);
    await pipeline.exec();
  }

  async invalidate(tags: readonly string[], atMs: number, ttlMs: number): Promise<void> {
    if (tags.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const tag of tags) pipeline.eval(RAISE_MARK, 1, this.markPrefix + tag, String(atMs), String(ttlMs));
    const results = await pipeline.exec();
    const failed = results?.find(([error]) => error);
    if (failed?.[0]) throw failed[0];
  }
}
