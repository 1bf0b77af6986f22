/**
 * Where the gateway keeps the answers of subgraph fetches and whole answers: in this process
 * (`npm start`, a bounded LRU) or in Redis (`REDIS_URL`, shared by every replica and worker).
 *
 * Every entry carries its tags: the entities it was built from (`catalog:Product:p1`, one per
 * entity of a service that the answer holds), and for lists and searches of a service the
 * service's list tag (`list:catalog`). Invalidation is a mark per tag: the time the event that
 * changed it was delivered. A read answers each entry with the latest mark of its own tags (and
 * of the tags every entry of the read is checked against: `*`, `svc:<service>`), so an event
 * outdates exactly the entries that hold its entity, and a fetch that raced it (started before,
 * stored after) never counts as fresh. Entries are kept after a mark, as the last known value
 * that stale-if-error may still serve (flagged) when the subgraph is down.
 */
import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';

/** One stored answer: a value, the time its fetch started and the tags it depends on. */
export interface CacheEntry {
  readonly value: unknown;
  /** Epoch milliseconds at which the fetch that produced it started. */
  readonly fetchedAt: number;
  /** The entities (and lists) it was built from; no tag may contain a newline. */
  readonly tags: readonly string[];
}

/** An entry as read: with the latest invalidation mark of its tags (0: none). */
export interface ReadEntry extends CacheEntry {
  readonly outdatedAt: number;
}

/** The store port: one in-memory adapter, one Redis adapter. */
export interface CacheStore {
  readonly kind: 'memory' | 'redis';
  /** The entries by key, each with the latest mark of its tags and of `alwaysTags`. */
  read(keys: readonly string[], alwaysTags: readonly string[]): Promise<ReadonlyArray<ReadEntry | undefined>>;
  write(entries: ReadonlyArray<readonly [string, CacheEntry]>, ttlMs: number): Promise<void>;
  /** Marks `tags` invalidated at `atMs` (kept `ttlMs`, as long as any entry they may outdate). */
  invalidate(tags: readonly string[], atMs: number, ttlMs: number): Promise<void>;
}

/** The tag every entry is checked against: marking it outdates everything (a lost invalidation). */
export const ALL_TAG = '*';

/** An entry as the in-process store keeps it: its value as JSON text. */
interface KeptEntry extends Omit<CacheEntry, 'value'> {
  readonly json: string;
}

/**
 * The in-process store: an LRU of entries (at most `maxEntries`, default 50 000) and one of marks.
 * Values are kept as JSON text, as Redis keeps them, so every reader gets its own copy and a
 * writer may go on changing what it wrote: the gateway's executor merges the other subgraphs'
 * answers into the objects a fetch returns (a review author's username into catalog's cached
 * answer), and a shared object would keep that merged data, and serve it after the entity it
 * came from was changed or erased.
 */
export class MemoryCacheStore implements CacheStore {
  readonly kind = 'memory';
  private readonly entries: LRUCache<string, KeptEntry>;
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

  /** Synchronous read (the whole-answer fast path of this process uses it directly). */
  readNow(keys: readonly string[], alwaysTags: readonly string[]): Array<ReadEntry | undefined> {
    let always = this.evictedMark;
    for (const tag of alwaysTags) always = Math.max(always, this.marks.get(tag) ?? 0);
    return keys.map((key) => {
      const entry = this.entries.get(key);
      if (!entry) return undefined;
      let outdatedAt = always;
      for (const tag of entry.tags) {
        const at = this.marks.get(tag);
        if (at !== undefined && at > outdatedAt) outdatedAt = at;
      }
      return { value: JSON.parse(entry.json) as unknown, fetchedAt: entry.fetchedAt, tags: entry.tags, outdatedAt };
    });
  }

  read(keys: readonly string[], alwaysTags: readonly string[]): Promise<ReadonlyArray<ReadEntry | undefined>> {
    return Promise.resolve(this.readNow(keys, alwaysTags));
  }

  write(entries: ReadonlyArray<readonly [string, CacheEntry]>, ttlMs: number): Promise<void> {
    for (const [key, entry] of entries) this.entries.set(key, { json: JSON.stringify(entry.value), fetchedAt: entry.fetchedAt, tags: entry.tags }, { ttl: ttlMs });
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

/**
 * Reads entries (KEYS) with the latest mark of their tags, in one round trip. An entry is stored
 * as its tags, one per line, an empty line, then its JSON. ARGV[1] is the marks' prefix, ARGV[2..]
 * the tags every entry is checked against. Answers, per key, false or { json, mark }.
 */
const READ_WITH_MARKS = `
local prefix = ARGV[1]
local always = 0
for i = 2, #ARGV do
  local m = tonumber(redis.call('GET', prefix .. ARGV[i]) or '0')
  if m > always then always = m end
end
local out = {}
for i, key in ipairs(KEYS) do
  local v = redis.call('GET', key)
  if v then
    local sep = string.find(v, '\\n\\n', 1, true)
    if sep then
      local mark = always
      for tag in string.gmatch(string.sub(v, 1, sep - 1), '[^\\n]+') do
        local m = tonumber(redis.call('GET', prefix .. tag) or '0')
        if m > mark then mark = m end
      end
      out[i] = { string.sub(v, sep + 2), tostring(mark) }
    else
      out[i] = false
    end
  else
    out[i] = false
  end
end
return out`;

/** Default deployment prefix of the gateway's Redis keys (REDIS_KEY_PREFIX). */
export const DEFAULT_REDIS_KEY_PREFIX = 'shop:';

type ReadReply = Array<[string, string] | null>;

/**
 * The shared store: entries `<prefix>gateway:cache:e:<key>` (their tags, then JSON), marks
 * `<prefix>gateway:cache:m:<tag>` (epoch ms). The prefix is the deployment's (REDIS_KEY_PREFIX):
 * two shops, or a staging and a production gateway, sharing one Redis never read each other's
 * entries nor outdate each other's with their marks. (The read script reads marks it is not
 * given as keys: one Redis server or a primary with replicas, not Redis Cluster.)
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
    if (!('shopCacheRead' in redis)) redis.defineCommand('shopCacheRead', { lua: READ_WITH_MARKS });
  }

  async read(keys: readonly string[], alwaysTags: readonly string[]): Promise<ReadonlyArray<ReadEntry | undefined>> {
    if (keys.length === 0) return [];
    const run = (this.redis as unknown as { shopCacheRead(n: number, ...args: string[]): Promise<ReadReply> }).shopCacheRead;
    const reply = await run.call(this.redis, keys.length, ...keys.map((k) => this.entryPrefix + k), this.markPrefix, ...alwaysTags);
    return keys.map((_key, i) => {
      const found = reply[i];
      if (!found) return undefined;
      const stored = JSON.parse(found[0]) as Omit<CacheEntry, 'tags'> & { tags: string[] };
      return { ...stored, outdatedAt: Number(found[1]) };
    });
  }

  async write(entries: ReadonlyArray<readonly [string, CacheEntry]>, ttlMs: number): Promise<void> {
    if (entries.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const [key, entry] of entries) pipeline.set(this.entryPrefix + key, `${entry.tags.join('\n')}\n\n${JSON.stringify(entry)}`, 'PX', ttlMs);
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
