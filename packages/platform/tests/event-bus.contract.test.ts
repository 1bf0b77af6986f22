import type { Pool } from 'pg';
import type { DataSource } from 'typeorm';
import { z } from 'zod';
import type { BusMessage, EventBus } from '../src/events/bus';
import { DEAD_LETTER_HEADERS } from '../src/events/bus';
import { InProcessBus } from '../src/events/in-process-bus';
import { KafkaBus } from '../src/events/kafka-bus';
import { Outbox, OutboxRelay } from '../src/events/outbox';
import { defineEvent } from '@shop/events';
import { on, startEventConsumers } from '../src/events/consumers';
import { createDataSource } from '../src/db/data-source';
import { PlatformOutboxInbox1700000000000 } from '../src/db/platform.migration';
import { createLogger } from '../src/logger';
import { createTestDatabase, createTestPool, eventually, testKafkaBrokers, uniqueName } from '../src/testing';

const logger = createLogger('test', 'silent');

interface Adapter {
  readonly name: string;
  create(): Promise<{ bus: EventBus; reopen(): EventBus; cleanup(): Promise<void> }>;
}

const adapters: Adapter[] = [
  {
    name: 'in-process (Postgres-backed)',
    create: async () => {
      const { pool, close } = await createTestPool('bus');
      const open = (): EventBus => new InProcessBus({ pool: pool as Pool, pollIntervalMs: 50 });
      const opened: EventBus[] = [open()];
      return {
        bus: opened[0]!,
        reopen: () => {
          const b = open();
          opened.push(b);
          return b;
        },
        cleanup: async () => {
          for (const b of opened) await b.close();
          await close();
        },
      };
    },
  },
  {
    name: 'kafka (real broker)',
    create: async () => {
      const open = (): EventBus => new KafkaBus({ brokers: testKafkaBrokers(), logger, partitions: 3 });
      const opened: EventBus[] = [open()];
      return {
        bus: opened[0]!,
        reopen: () => {
          const b = open();
          opened.push(b);
          return b;
        },
        cleanup: async () => {
          for (const b of opened) await b.close();
        },
      };
    },
  },
];

describe.each(adapters)('event bus contract: $name', (adapter) => {
  let env: Awaited<ReturnType<Adapter['create']>>;
  beforeEach(async () => {
    env = await adapter.create();
  });
  afterEach(async () => {
    await env.cleanup();
  });

  it('should deliver the messages of each key in the order they were published', async () => {
    const topic = uniqueName('order');
    const seen = new Map<string, number[]>();
    await env.bus.subscribe({
      groupId: uniqueName('g'),
      topics: [topic],
      handle: async (m) => {
        seen.set(m.key, [...(seen.get(m.key) ?? []), Number(m.value)]);
      },
    });
    const keys = ['a', 'b', 'c', 'd', 'e'];
    for (let i = 0; i < 10; i++) await env.bus.publish(keys.map((k) => ({ topic, key: k, value: String(i) })));
    await eventually(() => keys.every((k) => (seen.get(k)?.length ?? 0) === 10), 30_000);
    for (const k of keys) expect(seen.get(k)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('should redeliver a message whose handler failed, and keep later messages of its key behind it', async () => {
    const topic = uniqueName('retry');
    const handled: string[] = [];
    const attempts: number[] = [];
    await env.bus.subscribe({
      groupId: uniqueName('g'),
      topics: [topic],
      retryDelayMs: 10,
      handle: async (m) => {
        if (m.value === 'flaky') {
          attempts.push(m.attempt);
          if (m.attempt < 3) throw new Error('transient');
        }
        handled.push(m.value);
      },
    });
    await env.bus.publish([
      { topic, key: 'k', value: 'flaky' },
      { topic, key: 'k', value: 'after' },
    ]);
    await eventually(() => handled.length === 2, 30_000);
    expect(handled).toEqual(['flaky', 'after']);
    expect(attempts).toEqual([1, 2, 3]);
  });

  it('should give every consumer group each message, and share one group between its members', async () => {
    const topic = uniqueName('groups');
    const groupA = uniqueName('a');
    const other: string[] = [];
    const member1: string[] = [];
    const member2: string[] = [];
    await env.bus.subscribe({ groupId: uniqueName('b'), topics: [topic], handle: async (m) => void other.push(m.value) });
    await env.bus.subscribe({ groupId: groupA, topics: [topic], handle: async (m) => void member1.push(m.value) });
    await env.bus.subscribe({ groupId: groupA, topics: [topic], handle: async (m) => void member2.push(m.value) });
    // Let the group settle before publishing (Kafka rebalances when the second member joins).
    await new Promise((r) => setTimeout(r, env.bus.kind === 'kafka' ? 4_000 : 100));
    const values = Array.from({ length: 60 }, (_, i) => `m${i}`);
    await env.bus.publish(values.map((v, i) => ({ topic, key: `key-${i % 12}`, value: v })));
    await eventually(() => other.length === 60 && member1.length + member2.length >= 60, 40_000);
    expect([...other].sort()).toEqual([...values].sort());
    expect([...member1, ...member2].sort()).toEqual([...values].sort());
    expect(member1.length).toBeGreaterThan(0);
    expect(member2.length).toBeGreaterThan(0);
  });

  it('should dead-letter a message after the bounded attempts and go on with the next ones', async () => {
    const topic = uniqueName('dlq');
    const groupId = uniqueName('g');
    const handled: string[] = [];
    const dead: BusMessage[] = [];
    await env.bus.subscribe({
      groupId,
      topics: [topic],
      maxAttempts: 3,
      retryDelayMs: 5,
      handle: async (m) => {
        if (m.value === 'poison') throw new Error('always fails');
        handled.push(m.value);
      },
    });
    await env.bus.subscribe({ groupId: uniqueName('dlq-reader'), topics: [`dlq.${groupId}`], handle: async (m) => void dead.push(m) });
    await env.bus.publish([
      { topic, key: 'k', value: 'poison' },
      { topic, key: 'k', value: 'fine' },
    ]);
    await eventually(() => handled.includes('fine') && dead.length === 1, 30_000);
    expect(dead[0]?.value).toBe('poison');
    expect(dead[0]?.headers[DEAD_LETTER_HEADERS.originalTopic]).toBe(topic);
    expect(dead[0]?.headers[DEAD_LETTER_HEADERS.attempts]).toBe('3');
    expect(dead[0]?.headers[DEAD_LETTER_HEADERS.error]).toContain('always fails');
  });

  it('should redeliver unacknowledged messages to the group after a restart', async () => {
    const topic = uniqueName('restart');
    const groupId = uniqueName('g');
    const first: string[] = [];
    const consumer = await env.bus.subscribe({ groupId, topics: [topic], handle: async (m) => void first.push(m.value) });
    await env.bus.publish([{ topic, key: 'k', value: 'one' }]);
    await eventually(() => first.length === 1, 30_000);
    await consumer.stop();
    // Published while nobody of the group is running: must reach the group when it comes back.
    await env.bus.publish([{ topic, key: 'k', value: 'two' }]);
    const second: string[] = [];
    const bus2 = env.reopen();
    await bus2.subscribe({ groupId, topics: [topic], handle: async (m) => void second.push(m.value) });
    await eventually(() => second.includes('two'), 40_000);
    expect(second).toEqual(['two']);
  });

  it('should hand a batch consumer the messages of each partition in order, in bounded batches, committed once per batch', async () => {
    const topic = uniqueName('batch');
    const groupId = uniqueName('g');
    const values = Array.from({ length: 30 }, (_, i) => `v${i}`);
    await env.bus.publish(values.map((v) => ({ topic, key: 'one-key', value: v })));
    const batches: string[][] = [];
    const consumer = await env.bus.subscribe({
      groupId,
      topics: [topic],
      maxBatchSize: 8,
      handle: async () => {
        throw new Error('a batch consumer whose batches succeed is never handed single messages');
      },
      handleBatch: async (ms) => void batches.push(ms.map((m) => m.value)),
    });
    await eventually(() => batches.flat().length === 30, 30_000);
    expect(batches.flat()).toEqual(values);
    expect(Math.max(...batches.map((b) => b.length))).toBeLessThanOrEqual(8);
    expect(batches.some((b) => b.length > 1)).toBe(true);
    await consumer.stop();
    // Every batch was acknowledged: the group, back after a restart, has nothing left to read.
    const again: string[] = [];
    await env.reopen().subscribe({ groupId, topics: [topic], handle: async (m) => void again.push(m.value), handleBatch: async (ms) => void again.push(...ms.map((m) => m.value)) });
    await env.bus.publish([{ topic, key: 'one-key', value: 'after' }]);
    await eventually(() => again.includes('after'), 40_000);
    expect(again).toEqual(['after']);
  });

  it('should deliver a failed batch again one by one, so that a poison message in its middle holds back only itself', async () => {
    const topic = uniqueName('batch-poison');
    const groupId = uniqueName('g');
    const handled: string[] = [];
    const dead: BusMessage[] = [];
    const values = ['a', 'b', 'poison', 'c', 'd'];
    await env.bus.publish(values.map((v) => ({ topic, key: 'k', value: v })));
    await env.bus.subscribe({ groupId: uniqueName('dlq-reader'), topics: [`dlq.${groupId}`], handle: async (m) => void dead.push(m) });
    await env.bus.subscribe({
      groupId,
      topics: [topic],
      maxAttempts: 2,
      retryDelayMs: 5,
      handleBatch: async (ms) => {
        if (ms.some((m) => m.value === 'poison')) throw new Error('the batch holds a poison message');
        for (const m of ms) handled.push(m.value);
      },
      handle: async (m) => {
        if (m.value === 'poison') throw new Error('always fails');
        handled.push(m.value);
      },
    });
    await eventually(() => handled.includes('d') && dead.length === 1, 30_000);
    expect(handled).toEqual(['a', 'b', 'c', 'd']);
    expect(dead[0]?.value).toBe('poison');
    expect(dead[0]?.headers[DEAD_LETTER_HEADERS.attempts]).toBe('2');
  });

  it('should redeliver a whole batch that was in flight when its consumer went down', async () => {
    const topic = uniqueName('batch-crash');
    const groupId = uniqueName('g');
    const values = ['one', 'two', 'three', 'four'];
    await env.bus.publish(values.map((v) => ({ topic, key: 'k', value: v })));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let entered = false;
    const consumer = await env.bus.subscribe({
      groupId,
      topics: [topic],
      // Goes down in the middle of its first batch: the batch is never acknowledged.
      handleBatch: async () => {
        entered = true;
        await gate;
        throw new Error('process went down');
      },
      handle: async () => {
        throw new Error('process went down');
      },
    });
    await eventually(() => entered, 30_000);
    const stopping = consumer.stop();
    release();
    await stopping;
    const redelivered: string[] = [];
    await env.reopen().subscribe({ groupId, topics: [topic], handle: async (m) => void redelivered.push(m.value), handleBatch: async (ms) => void redelivered.push(...ms.map((m) => m.value)) });
    await eventually(() => redelivered.length === values.length, 40_000);
    expect(redelivered).toEqual(values);
  });

  it('should read its log by position: bounds per partition, then exactly the messages of each range, in order', async () => {
    const topic = uniqueName('log');
    const keys = ['a', 'b', 'c', 'd', 'e'];
    await env.bus.publish(keys.flatMap((key) => [1, 2, 3].map((n) => ({ topic, key, value: `${key}${n}` }))));
    const log = env.bus.log!;
    const bounds = await log.bounds([topic]);
    expect(bounds.length).toBeGreaterThanOrEqual(3);
    for (const b of bounds) expect(b).toMatchObject({ topic, removed: '-1' });
    // Everything, from before the first message of each partition.
    const all = await log.read(bounds.map((b) => ({ topic, partition: b.partition, after: '-1', upTo: b.last })));
    expect(all.map((m) => m.value).sort()).toEqual(keys.flatMap((key) => [1, 2, 3].map((n) => `${key}${n}`)).sort());
    for (const key of keys) expect(all.filter((m) => m.key === key).map((m) => m.value)).toEqual([1, 2, 3].map((n) => `${key}${n}`));
    // After the first message of each key's partition: the rest, none before, none twice.
    const firstOf = new Map<number, string>();
    for (const m of all) if (!firstOf.has(m.partition)) firstOf.set(m.partition, m.offset);
    const rest = await log.read(bounds.filter((b) => firstOf.has(b.partition)).map((b) => ({ topic, partition: b.partition, after: firstOf.get(b.partition)!, upTo: b.last })));
    expect(rest).toHaveLength(all.length - firstOf.size);
    expect(rest.some((m) => firstOf.get(m.partition) === m.offset)).toBe(false);
    // Up to a bound: what was published after it is not read.
    await env.bus.publish([{ topic, key: 'a', value: 'a4' }]);
    expect((await log.read(bounds.map((b) => ({ topic, partition: b.partition, after: '-1', upTo: b.last })))).map((m) => m.value)).not.toContain('a4');
  });

  describe('with the transactional outbox and the inbox', () => {
    let Pinged = defineEvent('test.pinged.v1', 'unused', z.object({ n: z.number().int() }));
    beforeEach(() => {
      Pinged = defineEvent('test.pinged.v1', uniqueName('test.ping'), z.object({ n: z.number().int() }));
    });

    /** Runs `test` against a fresh service database with the platform's outbox and inbox, dropped afterwards. */
    async function withServiceDatabase(prefix: string, test: (ds: DataSource) => Promise<void>): Promise<void> {
      const db = await createTestDatabase(prefix);
      const ds = createDataSource({ url: db.url, name: 'test', entities: [], migrations: [PlatformOutboxInbox1700000000000] });
      await ds.initialize();
      await ds.runMigrations();
      try {
        await test(ds);
      } finally {
        await ds.destroy();
        await db.drop();
      }
    }

    it('should publish events committed before a crash, and apply each once despite a republish', async () => {
      await withServiceDatabase('outbox', async (ds) => {
        await ds.query('CREATE TABLE effect (n int NOT NULL)');
        const outbox = new Outbox('test');
        // The state change and its events commit together; the relay is not running ("crashed").
        await ds.transaction(async (tx) => {
          for (let n = 1; n <= 3; n++) await outbox.add(tx, Pinged, 'agg-1', { n });
        });
        // A relay that published but crashed before deleting its rows: simulate by publishing
        // the rows by hand first, so the real relay republishes them.
        const rows = (await ds.query('SELECT envelope FROM outbox ORDER BY id')) as Array<{ envelope: unknown }>;
        await env.bus.publish(rows.map((r) => ({ topic: Pinged.topic, key: 'agg-1', value: JSON.stringify(r.envelope) })));

        const consumer = await startEventConsumers({
          bus: env.bus,
          dataSource: ds,
          groupId: uniqueName('svc'),
          logger,
          handlers: [on(Pinged, async (e, tx) => void (await tx.query('INSERT INTO effect (n) VALUES ($1)', [e.data.n])))],
        });
        const relay = new OutboxRelay({ dataSource: ds, bus: env.bus, logger, pollIntervalMs: 50 });
        relay.start();
        await eventually(async () => ((await ds.query('SELECT count(*)::int AS c FROM outbox')) as Array<{ c: number }>)[0]?.c === 0, 30_000);
        // Six deliveries (3 republished), three effects, in order.
        await new Promise((r) => setTimeout(r, env.bus.kind === 'kafka' ? 2_000 : 300));
        await eventually(async () => ((await ds.query('SELECT count(*)::int AS c FROM effect')) as Array<{ c: number }>)[0]?.c === 3, 30_000);
        await new Promise((r) => setTimeout(r, 500));
        expect(((await ds.query('SELECT n FROM effect')) as Array<{ n: number }>).map((r) => r.n)).toEqual([1, 2, 3]);
        await relay.stop();
        await consumer.stop();
      });
    });

    it('should apply a batch of events all or nothing with the inbox, then each good one exactly once when one of them fails', async () => {
      await withServiceDatabase('batch', async (ds) => {
        await ds.query('CREATE TABLE effect (n int NOT NULL)');
        const groupId = uniqueName('svc');
        const dead: BusMessage[] = [];
        await env.bus.subscribe({ groupId: uniqueName('r'), topics: [`dlq.${groupId}`], handle: async (m) => void dead.push(m) });
        const envelope = (n: number, id = uniqueName('e')) => JSON.stringify({ id, type: Pinged.type, key: 'k', occurredAt: new Date().toISOString(), source: 'test', data: { n } });
        // 3 fails every time; 2 is delivered twice (the same event id).
        const twice = uniqueName('e');
        await env.bus.publish([1, 2, 2, 3, 4, 5].map((n) => ({ topic: Pinged.topic, key: 'k', value: n === 2 ? envelope(n, twice) : envelope(n) })));
        await startEventConsumers({
          bus: env.bus,
          dataSource: ds,
          groupId,
          logger,
          maxAttempts: 2,
          handlers: [
            on(Pinged, async (e, tx) => {
              await tx.query('INSERT INTO effect (n) VALUES ($1)', [e.data.n]);
              if (e.data.n === 3) throw new Error('cannot handle 3');
            }),
          ],
        });
        await eventually(() => dead.length === 1, 30_000);
        await eventually(async () => ((await ds.query('SELECT count(*)::int AS c FROM effect')) as Array<{ c: number }>)[0]?.c === 4, 30_000);
        await new Promise((r) => setTimeout(r, 300));
        expect(((await ds.query('SELECT n FROM effect ORDER BY n')) as Array<{ n: number }>).map((r) => r.n)).toEqual([1, 2, 4, 5]);
        expect(JSON.parse(dead[0]!.value).data).toEqual({ n: 3 });
      });
    });

    it('should take the locks a batch shares once, in its transaction, before any of its events, with exactly its new events', async () => {
      await withServiceDatabase('lockbatch', async (ds) => {
        await ds.query('CREATE TABLE log (seq serial PRIMARY KEY, what text NOT NULL, n int NOT NULL, tx bigint NOT NULL DEFAULT txid_current())');
        const Ponged = defineEvent('test.ponged.v1', Pinged.topic, z.object({ n: z.number().int() }));
        const envelope = (type: string, n: number, id = uniqueName('e')) => JSON.stringify({ id, type, key: 'k', occurredAt: new Date().toISOString(), source: 'test', data: { n } });
        // Published before the consumer starts, so that it finds a backlog and takes batches; 3 twice (one event id).
        const twice = uniqueName('e');
        await env.bus.publish([1, 2, 3, 3, 4, 5, 6].map((n) => ({ topic: Pinged.topic, key: 'k', value: envelope(n % 2 ? Pinged.type : Ponged.type, n, n === 3 ? twice : undefined) })));
        const handle = async (e: { data: { n: number } }, tx: { query(sql: string, params: unknown[]): Promise<unknown> }) => void (await tx.query(`INSERT INTO log (what, n) VALUES ('handle', $1)`, [e.data.n]));
        // One function shared by both handlers: one lock call for both types.
        const lockBatch = async (events: ReadonlyArray<{ data: unknown }>, tx: { query(sql: string, params: unknown[]): Promise<unknown> }) =>
          void (await tx.query(`INSERT INTO log (what, n) SELECT 'lock', unnest($1::int[])`, [events.map((e) => (e.data as { n: number }).n)]));
        const consumer = await startEventConsumers({ bus: env.bus, dataSource: ds, groupId: uniqueName('svc'), logger, handlers: [on(Pinged, handle, { lockBatch }), on(Ponged, handle, { lockBatch })] });
        await eventually(async () => ((await ds.query(`SELECT count(*)::int AS c FROM log WHERE what = 'handle'`)) as Array<{ c: number }>)[0]?.c === 6, 30_000);
        await new Promise((r) => setTimeout(r, 300));
        await consumer.stop();
        const rows = (await ds.query('SELECT seq, what, n, tx::text AS tx FROM log ORDER BY seq')) as Array<{ seq: number; what: string; n: number; tx: string }>;
        // Each event handled once, in order.
        expect(rows.filter((r) => r.what === 'handle').map((r) => r.n)).toEqual([1, 2, 3, 4, 5, 6]);
        const byTx = new Map<string, typeof rows>();
        for (const r of rows) byTx.set(r.tx, [...(byTx.get(r.tx) ?? []), r]);
        let shared = 0;
        for (const txRows of byTx.values()) {
          const handled = txRows.filter((r) => r.what === 'handle');
          const locked = txRows.filter((r) => r.what === 'lock');
          if (handled.length < 2) {
            expect(locked).toEqual([]); // a single event takes its own locks
            continue;
          }
          shared++;
          expect(locked.map((r) => r.n)).toEqual(handled.map((r) => r.n));
          expect(Math.max(...locked.map((r) => r.seq))).toBeLessThan(Math.min(...handled.map((r) => r.seq)));
        }
        expect(shared).toBeGreaterThan(0);
      });
    });

    it('should dead-letter an event whose payload does not match its schema without retrying', async () => {
      await withServiceDatabase('poison', async (ds) => {
        const groupId = uniqueName('svc');
        const handled: number[] = [];
        const dead: BusMessage[] = [];
        const consumer = await startEventConsumers({ bus: env.bus, dataSource: ds, groupId, logger, handlers: [on(Pinged, async (e) => void handled.push(e.data.n))] });
        await env.bus.subscribe({ groupId: uniqueName('r'), topics: [`dlq.${groupId}`], handle: async (m) => void dead.push(m) });
        const envelope = (n: unknown) => JSON.stringify({ id: uniqueName('e'), type: Pinged.type, key: 'k', occurredAt: new Date().toISOString(), source: 'test', data: { n } });
        await env.bus.publish([
          { topic: Pinged.topic, key: 'k', value: envelope('not a number') },
          { topic: Pinged.topic, key: 'k', value: '{not json' },
          { topic: Pinged.topic, key: 'k', value: envelope(7) },
        ]);
        await eventually(() => handled.length === 1 && dead.length === 2, 30_000);
        expect(handled).toEqual([7]);
        expect(dead.map((d) => d.headers[DEAD_LETTER_HEADERS.attempts])).toEqual(['1', '1']);
        // Before the database goes: `handled` grows inside the handler, before its inbox commit.
        await consumer.stop();
      });
    });
  });
});
