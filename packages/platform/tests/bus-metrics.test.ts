/**
 * The event metrics both adapters keep (consumer lag, consumed and dead-lettered events) and the
 * outbox relay's backlog gauges, read the way Prometheus reads them: from the registry's text.
 */
import type { Pool } from 'pg';
import { PoisonMessageError } from '../src/events/bus';
import type { EventBus } from '../src/events/bus';
import { InProcessBus } from '../src/events/in-process-bus';
import { KafkaBus } from '../src/events/kafka-bus';
import { defineEvent } from '@shop/events';
import { Outbox, OutboxRelay } from '../src/events/outbox';
import { createDataSource } from '../src/db/data-source';
import { PlatformOutboxInbox1700000000000 } from '../src/db/platform.migration';
import { createLogger } from '../src/logger';
import { registry } from '../src/metrics';
import { createTestDatabase, createTestPool, eventually, testKafkaBrokers, uniqueName } from '../src/testing';
import { z } from 'zod';

const logger = createLogger('test', 'silent');

/** The value of one series in the registry's exposition (undefined when absent). */
async function sample(name: string, labels: Record<string, string>): Promise<number | undefined> {
  const text = await registry.metrics();
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (wanted.every((w) => line.includes(w))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

const adapters: Array<{ name: string; create(): Promise<{ bus: EventBus; cleanup(): Promise<void> }> }> = [
  {
    name: 'in-process',
    create: async () => {
      const { pool, close } = await createTestPool('busmetrics');
      const bus = new InProcessBus({ pool: pool as Pool, pollIntervalMs: 50 });
      return { bus, cleanup: async () => { await bus.close(); await close(); } };
    },
  },
  {
    name: 'kafka',
    create: async () => {
      const bus = new KafkaBus({ brokers: testKafkaBrokers(), logger, partitions: 1, namespace: uniqueName('metrics') });
      return { bus, cleanup: () => bus.close() };
    },
  },
];

describe.each(adapters)('event bus metrics ($name)', (adapter) => {
  let env: Awaited<ReturnType<(typeof adapters)[number]['create']>>;
  beforeAll(async () => {
    env = await adapter.create();
  });
  afterAll(async () => {
    await env?.cleanup();
  });

  it('should report the lag of a consumer group that falls behind, then catches up', async () => {
    const topic = uniqueName('lagged');
    const group = uniqueName('svc');
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const consumer = await env.bus.subscribe({ groupId: group, topics: [topic], handle: () => gate });
    try {
      await env.bus.publish(Array.from({ length: 5 }, (_, i) => ({ topic, key: 'k', value: String(i) })));
      // One message is in the handler (not acknowledged), the rest wait behind it.
      await eventually(async () => (await sample('events_consumer_lag_messages', { service: group, topic })) === 5, 20_000, 250);
      release();
      await eventually(async () => (await sample('events_consumer_lag_messages', { service: group, topic })) === 0, 20_000, 250);
      expect(await sample('events_consumed_total', { service: group, topic, outcome: 'handled', consumer: 'durable' })).toBe(5);
    } finally {
      release();
      await consumer.stop();
    }
  });

  it('should count a dead-lettered event from zero', async () => {
    const topic = uniqueName('poison');
    const group = uniqueName('svc');
    const consumer = await env.bus.subscribe({
      groupId: group,
      topics: [topic],
      handle: async () => {
        throw new PoisonMessageError('never valid');
      },
    });
    try {
      expect(await sample('events_dead_lettered_total', { service: group, topic })).toBe(0);
      await env.bus.publish([{ topic, key: 'k', value: 'x' }]);
      await eventually(async () => (await sample('events_dead_lettered_total', { service: group, topic })) === 1, 20_000, 100);
      expect(await sample('events_delivery_failures_total', { service: group, topic })).toBe(1);
      expect(await sample('events_consumed_total', { service: group, topic, outcome: 'dead_lettered' })).toBe(1);
    } finally {
      await consumer.stop();
    }
  });
});

describe('outbox metrics', () => {
  it('should report the backlog and the age of the oldest row while the bus is down, then the published events', async () => {
    const db = await createTestDatabase('outboxmetrics');
    const { pool, close } = await createTestPool('outboxbus');
    const bus = new InProcessBus({ pool: pool as Pool, pollIntervalMs: 50 });
    const down: EventBus = {
      kind: 'in-process',
      publish: async () => {
        throw new Error('bus unavailable');
      },
      subscribe: async () => ({ stop: async () => undefined }),
      isReady: async () => false,
      close: async () => undefined,
    };
    const ds = createDataSource({ url: db.url, name: 'test', entities: [], migrations: [PlatformOutboxInbox1700000000000] });
    await ds.initialize();
    await ds.runMigrations();
    const service = uniqueName('svc');
    const Pinged = defineEvent('test.pinged.v1', uniqueName('pings'), z.object({ n: z.number() }));
    const stuck = new OutboxRelay({ dataSource: ds, bus: down, logger, service });
    const relay = new OutboxRelay({ dataSource: ds, bus, logger, service });
    try {
      const outbox = new Outbox(service);
      await ds.transaction((tx) => outbox.add(tx, Pinged, 'k', { n: 1 }));
      await ds.query(`UPDATE outbox SET created_at = now() - interval '90 seconds'`);
      await ds.transaction((tx) => outbox.add(tx, Pinged, 'k', { n: 2 }));
      stuck.start();
      await eventually(async () => ((await sample('events_publish_failures_total', { service })) ?? 0) >= 1, 10_000, 50);
      expect(await sample('events_outbox_backlog', { service })).toBe(2);
      expect(await sample('events_outbox_oldest_age_seconds', { service })).toBeGreaterThanOrEqual(90);
      await stuck.stop();
      relay.start();
      await eventually(async () => (await sample('events_published_total', { service })) === 2, 10_000, 50);
      await eventually(async () => (await sample('events_outbox_backlog', { service })) === 0, 5_000, 1_100);
      expect(await sample('events_outbox_oldest_age_seconds', { service })).toBe(0);
    } finally {
      await stuck.stop();
      await relay.stop();
      await ds.destroy();
      await bus.close();
      await close();
      await db.drop();
    }
  });
});
