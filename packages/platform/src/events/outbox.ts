import type { DataSource, EntityManager } from 'typeorm';
import type { Logger } from '../logger';
import type { EventBus } from './bus';
import { sleep } from './bus';
import type { EventDefinition, EventEnvelope } from './envelope';
import { createEnvelope } from './envelope';

/**
 * The transactional outbox: `add` writes the event row inside the caller's transaction, so the
 * event exists if and only if the state change committed. The relay publishes it afterwards.
 *
 * Ordering: write (or lock) the aggregate's row before adding its event; a concurrent writer of
 * the same aggregate then waits for the commit, so outbox ids follow the aggregate's history.
 */
export class Outbox {
  constructor(readonly source: string) {}

  async add<T>(tx: EntityManager, def: EventDefinition<T>, key: string, data: T, meta?: Record<string, string>): Promise<EventEnvelope<T>> {
    const envelope = createEnvelope(this.source, def, key, data, meta);
    await tx.query('INSERT INTO outbox (event_id, topic, key, type, envelope) VALUES ($1, $2, $3, $4, $5)', [
      envelope.id,
      def.topic,
      key,
      def.type,
      JSON.stringify(envelope),
    ]);
    return envelope;
  }
}

export interface OutboxRelayOptions {
  readonly dataSource: DataSource;
  readonly bus: EventBus;
  readonly logger: Logger;
  /** Rows published per round trip. Default 200. */
  readonly batchSize?: number;
  /** How often to look for rows when nobody called `wake()`. Default 500 ms. */
  readonly pollIntervalMs?: number;
  /** Advisory lock id: one relay per database publishes at a time, which keeps per-key order across replicas. */
  readonly lockId?: number;
}

/**
 * Publishes outbox rows in id order and deletes them after the bus accepted them. A crash between
 * publish and delete republishes on restart (at-least-once; consumers dedupe with the inbox).
 */
export class OutboxRelay {
  private running = false;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private pending = false;
  private failures = 0;

  constructor(private readonly options: OutboxRelayOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Asks the relay to look now (call after committing a transaction that added events). */
  wake(): void {
    this.pending = true;
    this.wakeUp?.();
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

  private async run(): Promise<void> {
    while (!this.stopped) {
      this.pending = false;
      try {
        await this.flush();
        this.failures = 0;
      } catch (error) {
        this.failures++;
        this.options.logger.warn({ err: error, failures: this.failures }, 'outbox relay could not publish; will retry');
        await sleep(Math.min(5_000, 100 * 2 ** this.failures));
        continue;
      }
      if (this.pending || this.stopped) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.options.pollIntervalMs ?? 500);
        this.wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeUp = undefined;
    }
  }

  private async publishBatch(): Promise<number> {
    const runner = this.options.dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      const [lock] = (await runner.query('SELECT pg_try_advisory_xact_lock($1) AS locked', [this.options.lockId ?? 7419002])) as Array<{ locked: boolean }>;
      if (!lock?.locked) {
        await runner.rollbackTransaction();
        return 0;
      }
      const rows = (await runner.query('SELECT id, topic, key, type, envelope FROM outbox ORDER BY id LIMIT $1', [this.options.batchSize ?? 200])) as Array<{
        id: string;
        topic: string;
        key: string;
        type: string;
        envelope: EventEnvelope;
      }>;
      if (rows.length > 0) {
        await this.options.bus.publish(
          rows.map((r) => ({
            topic: r.topic,
            key: r.key,
            value: JSON.stringify(r.envelope),
            headers: { 'event-type': r.type, 'event-id': r.envelope.id, ...(r.envelope.meta ?? {}) },
          })),
        );
        await runner.query('DELETE FROM outbox WHERE id = ANY($1::bigint[])', [rows.map((r) => r.id)]);
      }
      await runner.commitTransaction();
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
    this.stopped = true;
    this.wakeUp?.();
    await this.loop;
    this.running = false;
  }
}
