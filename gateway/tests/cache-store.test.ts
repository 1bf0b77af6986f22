/**
 * The shared cache store in the test run's real redis-server: two deployments (key prefixes, the
 * gateway's REDIS_KEY_PREFIX) sharing one Redis never read each other's entries, nor outdate each
 * other's with their invalidation marks; and every key a store writes starts with its prefix.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { testRedisUrl } from '@shop/platform/testing';
import { RedisCacheStore } from '../src/cache/cache-store';

describe('the Redis cache store with a deployment key prefix', () => {
  let redis: Redis;
  const run = randomBytes(4).toString('hex');
  const staging = `staging-${run}:`;
  const production = `production-${run}:`;

  beforeAll(() => {
    redis = new Redis(testRedisUrl());
  });
  afterAll(() => redis.quit());

  it('should never let two prefixes see each other’s entries or marks', async () => {
    const a = new RedisCacheStore(redis, staging);
    const b = new RedisCacheStore(redis, production);
    const key = 'catalog:Product:p1:{name price}';
    const tags = ['catalog:Product:p1', '*'];
    await a.write([[key, { value: { price: '1.00' }, fetchedAt: 1_000 }]], 60_000);
    expect((await a.read([key], tags)).entries).toEqual([{ value: { price: '1.00' }, fetchedAt: 1_000 }]);
    expect((await b.read([key], tags)).entries).toEqual([undefined]);

    await b.write([[key, { value: { price: '2.00' }, fetchedAt: 2_000 }]], 60_000);
    expect((await a.read([key], tags)).entries[0]).toEqual({ value: { price: '1.00' }, fetchedAt: 1_000 });
    expect((await b.read([key], tags)).entries[0]).toEqual({ value: { price: '2.00' }, fetchedAt: 2_000 });

    // Production's event outdates production's entry only.
    await b.invalidate(['catalog:Product:p1'], 5_000, 60_000);
    expect((await b.read([key], tags)).marks.get('catalog:Product:p1')).toBe(5_000);
    expect((await a.read([key], tags)).marks.size).toBe(0);
  });

  it('should write only keys that start with its prefix', async () => {
    const prefix = `scan-${run}:`;
    const store = new RedisCacheStore(redis, prefix);
    await store.write([['root:catalog:{products}', { value: [], fetchedAt: 1 }]], 60_000);
    await store.invalidate(['root:catalog'], 2, 60_000);
    const keys = (await redis.keys(`*scan-${run}*`)).sort();
    expect(keys).toEqual([`${prefix}gateway:cache:e:root:catalog:{products}`, `${prefix}gateway:cache:m:root:catalog`]);
  });
});
