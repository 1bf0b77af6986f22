/**
 * The cache stores: entries carry the tags of the entities they were built from, and a mark
 * outdates exactly the entries holding its tag (in this process and in the test run's real
 * redis-server, with the same behaviour); two deployments (key prefixes, the gateway's
 * REDIS_KEY_PREFIX) sharing one Redis never read each other's entries, nor outdate each other's
 * with their marks; and every key a store writes starts with its prefix.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { testRedisUrl } from '@shop/platform/testing';
import type { CacheStore } from '../src/cache/cache-store';
import { MemoryCacheStore, RedisCacheStore } from '../src/cache/cache-store';

describe('the cache stores', () => {
  let redis: Redis;
  const run = randomBytes(4).toString('hex');
  const staging = `staging-${run}:`;
  const production = `production-${run}:`;

  beforeAll(() => {
    redis = new Redis(testRedisUrl());
  });
  afterAll(() => redis.quit());

  it.each(['memory', 'redis'] as const)('should outdate exactly the entries that hold a marked entity (%s)', async (kind) => {
    const store: CacheStore = kind === 'memory' ? new MemoryCacheStore() : new RedisCacheStore(redis, `tags-${run}:`);
    const list = { value: { edges: ['p1', 'p2'] }, fetchedAt: 1_000, tags: ['catalog:Product:p1', 'catalog:Product:p2', 'list:catalog'] };
    const p1 = { value: { price: '1.00' }, fetchedAt: 1_000, tags: ['catalog:Product:p1'] };
    const p2 = { value: { price: '2.00' }, fetchedAt: 1_000, tags: ['catalog:Product:p2'] };
    const stock = { value: { available: 3 }, fetchedAt: 1_000, tags: ['inventory:Product:p1'] };
    await store.write([['list', list], ['p1', p1], ['p2', p2], ['stock', stock]], 60_000);
    const marks = async () => (await store.read(['list', 'p1', 'p2', 'stock', 'absent'], ['*', 'svc:catalog'])).map((e) => e?.outdatedAt);
    expect(await marks()).toEqual([0, 0, 0, 0, undefined]);

    // p2's stock changes: nothing of catalog is outdated, p1's stock neither.
    await store.invalidate(['inventory:Product:p2'], 2_000, 60_000);
    expect(await marks()).toEqual([0, 0, 0, 0, undefined]);
    // p1 in inventory: its stock only.
    await store.invalidate(['inventory:Product:p1'], 3_000, 60_000);
    expect(await marks()).toEqual([0, 0, 0, 3_000, undefined]);
    // p2 in catalog: p2 and the list that holds it.
    await store.invalidate(['catalog:Product:p2'], 4_000, 60_000);
    expect(await marks()).toEqual([4_000, 0, 4_000, 3_000, undefined]);
    // A mark never goes back; the global mark outdates everything read against it.
    await store.invalidate(['catalog:Product:p2'], 3_500, 60_000);
    expect(await marks()).toEqual([4_000, 0, 4_000, 3_000, undefined]);
    await store.invalidate(['*'], 5_000, 60_000);
    expect(await marks()).toEqual([5_000, 5_000, 5_000, 5_000, undefined]);
    // The entries themselves stay (last known values for stale-if-error), tags included.
    expect((await store.read(['list'], []))[0]).toEqual({ ...list, outdatedAt: 4_000 });
  });

  it.each(['memory', 'redis'] as const)('should give every reader its own copy of an entry (%s)', async (kind) => {
    // The executor merges other subgraphs' answers into what a fetch returns: neither the writer's
    // later changes nor a reader's may reach the stored entry (an erased author's username would
    // stay in catalog's cached answer).
    const store: CacheStore = kind === 'memory' ? new MemoryCacheStore() : new RedisCacheStore(redis, `copies-${run}:`);
    const value = { product: { reviews: [{ author: { __typename: 'User', id: 'u1' } }] } };
    await store.write([['page', { value, fetchedAt: 1_000, tags: ['catalog:Product:p1'] }]], 60_000);
    value.product.reviews[0]!.author = { ...value.product.reviews[0]!.author, username: 'written later' } as never;
    const first = (await store.read(['page'], []))[0]!.value as typeof value;
    expect(first).toEqual({ product: { reviews: [{ author: { __typename: 'User', id: 'u1' } }] } });
    (first.product.reviews[0]!.author as Record<string, unknown>)['username'] = 'merged by a reader';
    expect((await store.read(['page'], []))[0]!.value).toEqual({ product: { reviews: [{ author: { __typename: 'User', id: 'u1' } }] } });
  });

  it('should never let two prefixes see each other’s entries or marks', async () => {
    const a = new RedisCacheStore(redis, staging);
    const b = new RedisCacheStore(redis, production);
    const key = 'catalog:Product:p1:{name price}';
    const tags = ['catalog:Product:p1'];
    await a.write([[key, { value: { price: '1.00' }, fetchedAt: 1_000, tags }]], 60_000);
    expect(await a.read([key], ['*'])).toEqual([{ value: { price: '1.00' }, fetchedAt: 1_000, tags, outdatedAt: 0 }]);
    expect(await b.read([key], ['*'])).toEqual([undefined]);

    await b.write([[key, { value: { price: '2.00' }, fetchedAt: 2_000, tags }]], 60_000);
    expect((await a.read([key], ['*']))[0]?.value).toEqual({ price: '1.00' });
    expect((await b.read([key], ['*']))[0]?.value).toEqual({ price: '2.00' });

    // Production's event outdates production's entry only.
    await b.invalidate(['catalog:Product:p1'], 5_000, 60_000);
    expect((await b.read([key], ['*']))[0]?.outdatedAt).toBe(5_000);
    expect((await a.read([key], ['*']))[0]?.outdatedAt).toBe(0);
  });

  it('should write only keys that start with its prefix', async () => {
    const prefix = `scan-${run}:`;
    const store = new RedisCacheStore(redis, prefix);
    await store.write([['list:catalog:{products}', { value: [], fetchedAt: 1, tags: ['list:catalog'] }]], 60_000);
    await store.invalidate(['list:catalog'], 2, 60_000);
    const keys = (await redis.keys(`*scan-${run}*`)).sort();
    expect(keys).toEqual([`${prefix}gateway:cache:e:list:catalog:{products}`, `${prefix}gateway:cache:m:list:catalog`]);
  });
});
