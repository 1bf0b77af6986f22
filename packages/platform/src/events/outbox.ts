import type { DataSource, EntityManager } from 'typeorm';
import type { Logger } from '../logger';
import { counter, memoize, sourcedGauge } from '../metrics';
import { injectTraceContext, SERVICE_ATTRIBUTE, tracer } from '../tracing';
import { context, SpanKind, trace } from '@opentelemetry/api';
import type { EventBus } from './bus';
import { PollingLoop } from '../scheduler';
import type { EventDefinition } from '@shop/events';
import type { EventEnvelope } from './envelope';
import { createEnvelope } from './envelope';

/**
 * The transactional outbox: `add` writes the event row inside the caller's transaction, so the
 * event exists if and only if the state change committed. The relay publishes it afterwards.
 *
 * Ordering: write (or lock) the aggregate's row before adding its event; a concurrent writer of
 * the same aggregate then waits for the commit, so outbox ids follow the aggregate's history.
 */
/** An event built for the outbox but not written yet: written by {@link Outbox.add}, or by a caller's own statement with {@link outboxInsert}. */
export interface PreparedEvent<T = unknown> {
  readonly envelope: EventEnvelope<T>;
  readonly topic: string;
  readonly key: string;
  readonly type: string;
}

export class Outbox {
  constructor(readonly source: string) {}

  async add<T>(tx: EntityManager, def: EventDefinition<T>, key: string, data: NoInfer<T>, meta?: Record<string, string>): Promise<EventEnvelope<T>> {
    const event = this.prepare(def, key, data, meta);
    const insert = outboxInsert([event], 1);
    await tx.query(insert.sql, insert.params);
    return event.envelope;
  }

  /**
   * Builds an event for the outbox without writing it, so that a caller can write it in the same
   * statement as the state change it belongs to (one round trip instead of two; see
   * {@link outboxInsert}). Nothing is published unless that statement commits.
   */
  prepare<T>(def: EventDefinition<T>, key: string, data: NoInfer<T>, meta?: Record<string, string>): PreparedEvent<T> {
    // A producer span (child of the request or handler adding the event) whose context travels
    // in `meta`, so the consumers continue the trace. Without tracing, meta stays as given.
    const span = tracer().startSpan(`${def.topic} publish`, { kind: SpanKind.PRODUCER, attributes: { [SERVICE_ATTRIBUTE]: this.source, 'messaging.destination.name': def.topic, 'shop.event.type': def.type } });
    const traceMeta = injectTraceContext({}, trace.setSpan(context.active(), span));
    const merged = Object.keys(traceMeta).length ? { ...traceMeta, ...meta } : meta;
    const envelope = createEnvelope(this.source, def, key, data, merged);
    span.setAttribute('messaging.message.id', envelope.id);
    span.end();
    return { envelope, topic: def.topic, key, type: def.type };
  }
}

/**
 * The statement (or CTE member) that writes prepared events to the outbox, in the given order
 * (outbox ids follow it), with its parameters numbered from `firstParam`: five arrays, one per
 * column, so any number of events is one statement. Inside a `WITH`, guard it with a
 * `WHERE EXISTS (…)` on the change it belongs to (`whereSql`), so that no event is written when
 * the change did not happen.
 */
export function outboxInsert(events: readonly PreparedEvent[], firstParam: number, whereSql = ''): { sql: string; params: unknown[] } {
  const n = firstParam;
  return {
    sql: `INSERT INTO outbox (event_id, topic, key, type, envelope)
      SELECT e.event_id, e.topic, e.key, e.type, e.envelope
      FROM unnest($${n}::uuid[], $${n + 1}::text[], $${n + 2}::text[], $${n + 3}::text[], $${n + 4}::jsonb[]) WITH ORDINALITY AS e (event_id, topic, key, type, envelope, ord)
      ${whereSql} ORDER BY e.ord`,
    params: [events.map((e) => e.envelope.id), events.map((e) => e.topic), events.map((e) => e.key), events.map((e) => e.type), events.map((e) => JSON.stringify(e.envelope))],
  };
}

export interface OutboxRelayOptions {
  readonly dataSource: DataSource;
  readonly bus: EventBus;
  readonly logger: Logger;
  /** Rows published per round trip. Default 200. */
  readonly batchSize?: number;
  /**
   * How often to look for rows when nobody called `wake()` (rows of another replica, or left by a
   * crash). An idle look is one statement. Default 1000 ms.
   */
  readonly pollIntervalMs?: number;
  /** Advisory lock id: one relay per database publishes at a time, which keeps per-key order across replicas. */
  readonly lockId?: number;
  /** The `service` label of the relay's metrics (backlog, oldest row age, published events). Default `unknown`. */
  readonly service?: string;
}

/** Relay metrics (one set per process; series told apart by `service`). */
function relayMetrics() {
  return {
    published: counter({ name: 'events_published_total', help: 'Events published from the outbox to the event bus, by service and topic.', labelNames: ['service', 'topic'] }),
    failures: counter({ name: 'events_publish_failures_total', help: 'Outbox relay rounds that could not publish (the rows stay and are retried), by service.', labelNames: ['service'] }),
    backlog: sourcedGauge({ name: 'events_outbox_backlog', help: 'Outbox rows committed but not yet published, by service.', labelNames: ['service'] }),
    oldestAge: sourcedGauge({ name: 'events_outbox_oldest_age_seconds', help: 'Age in seconds of the oldest unpublished outbox row (0 when the outbox is empty), by service.', labelNames: ['service'] }),
  };
}

/**
 * Publishes outbox rows in id order and deletes them after the bus accepted them. A crash between
 * publish and delete republishes on restart (at-least-once; consumers dedupe with the inbox).
 */
export class OutboxRelay {
  private running = false;
  /** True when someone committed events since the last round (then the round skips the cheap probe). */
  private woken = true;
  private readonly loop: PollingLoop;
  private readonly metrics = relayMetrics();
  private readonly service: string;
  private removeGauges: Array<() => void> = [];

  constructor(private readonly options: OutboxRelayOptions) {
    this.service = options.service ?? 'unknown';
    this.loop = new PollingLoop({
      tick: async () => {
        const woken = this.woken;
        this.woken = false;
        // Not woken: most likely nothing to do, which one cheap statement tells.
        if (!woken && !(await this.anyRows())) return;
        await this.flush();
      },
      intervalMs: options.pollIntervalMs ?? 1_000,
      onError: (error, failures) => {
        this.metrics.failures.inc({ service: this.service });
        options.logger.warn({ err: error, failures }, 'outbox relay could not publish; will retry');
      },
    });
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    // Measured at scrape time (once per second at most): a relay that is stuck or slower than
    // the writers shows as a growing backlog and an oldest row that keeps ageing.
    const measure = memoize(async () => {
      const [row] = (await this.options.dataSource.query(
        'SELECT count(*)::int AS backlog, coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS age FROM outbox',
      )) as Array<{ backlog: number; age: number }>;
      return { backlog: row?.backlog ?? 0, age: Math.max(0, row?.age ?? 0) };
    });
    const labels = { service: this.service };
    this.metrics.failures.inc(labels, 0); // a zero series from the start, so increase() sees the first failure
    this.removeGauges = [
      this.metrics.backlog.addSource(async () => [{ labels, value: (await measure()).backlog }]),
      this.metrics.oldestAge.addSource(async () => [{ labels, value: (await measure()).age }]),
    ];
    this.loop.start();
  }

  /** Asks the relay to look now (call after committing a transaction that added events). */
  wake(): void {
    this.woken = true;
    this.loop.wake();
  }

  private async anyRows(): Promise<boolean> {
    const rows = (await this.options.dataSource.query('SELECT 1 FROM outbox LIMIT 1')) as unknown[];
    return rows.length > 0;
  }

  /** Publishes whatever is committed right now; resolves with the number of rows published. */
  async flush(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.publishBatch();
      total += n;
      if (n < (this.options.batchSize ?? 200)) return total;
    }
  }

  private async publishBatch(): Promise<number> {
    const runner = this.options.dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      // One statement takes the relay lock (one relay per database at a time keeps per-key order
      // across replicas) and the batch: rows come back deleted, and come back for real only if
      // the bus accepted them (a failed publish rolls the delete back).
      // TypeORM answers a DELETE … RETURNING as [rows, count].
      const [taken] = (await runner.query(
        `WITH relay AS (SELECT pg_try_advisory_xact_lock($2) AS locked),
              batch AS (SELECT o.id FROM outbox o, relay WHERE relay.locked ORDER BY o.id LIMIT $1)
         DELETE FROM outbox o USING batch WHERE o.id = batch.id
         RETURNING o.id, o.topic, o.key, o.type, o.envelope`,
        [this.options.batchSize ?? 200, this.options.lockId ?? 7419002],
      )) as [Array<{ id: string; topic: string; key: string; type: string; envelope: EventEnvelope }>, number];
      const rows = taken.sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
      if (rows.length > 0) {
        await this.options.bus.publish(
          rows.map((r) => ({
            topic: r.topic,
            key: r.key,
            value: JSON.stringify(r.envelope),
            headers: { 'event-type': r.type, 'event-id': r.envelope.id, ...(r.envelope.meta ?? {}) },
          })),
        );
      }
      await runner.commitTransaction();
      for (const r of rows) this.metrics.published.inc({ service: this.service, topic: r.topic });
      return rows.length;
    } catch (error) {
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
      throw error;
    } finally {
      await runner.release();
    }
  }

  /** Stops after the batch in flight; rows left behind are published on the next start. */
  async stop(): Promise<void> {
    await this.loop.stop();
    this.running = false;
    for (const remove of this.removeGauges.splice(0)) remove();
  }
}
