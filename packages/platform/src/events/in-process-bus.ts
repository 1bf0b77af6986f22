import { EventEmitter } from 'node:events';
import type { Pool } from 'pg';
import type { Logger } from '../logger';
import type { BusMessage, Consumer, ConsumerSpec, EventBus, EventLog, LogRange, OutgoingMessage, PartitionBounds } from './bus';
import { DEFAULT_MAX_BATCH_SIZE, deliverBatch, partitionFor, sleep } from './bus';
import type { ConsumerInstrumentation } from './bus-metrics';
import { consumerGroupLabels, eventBusMetrics, instrumentConsumer } from './bus-metrics';
import { memoize } from '../metrics';

/** Messages one read of a partition takes at most. */
const FETCH_LIMIT = 100;

/** An idle partition loop writes its offset at most this long after its last write (a burst of short busy spells costs one write a second, not one each). */
const IDLE_OFFSET_COMMIT_MS = 1_000;

/** While a partition is busy, its group's offset is written at most this often (and always before it idles). */
const OFFSET_COMMIT_INTERVAL_MS = 200;

/** Options of the in-process bus. */
export interface InProcessBusOptions {
  /** Postgres pool holding the bus log (tables are created on first use). */
  readonly pool: Pool;
  /** Partitions per topic. Default 4. */
  readonly partitions?: number;
  /**
   * How often the bus checks, with one statement, whether its log grew without a wake-up (a
   * safety net: every publish of this process wakes its consumers at once). Default 1000 ms.
   */
  readonly pollIntervalMs?: number;
  /** Messages older than this are pruned (hourly); resumable subscriptions replay what is left. Default 7 days (`BUS_RETENTION_HOURS` for `npm start`). */
  readonly retentionMs?: number;
  /** Where to report connection trouble. Default: nowhere. */
  readonly logger?: Logger;
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS bus_message (
    id bigserial PRIMARY KEY,
    topic text NOT NULL,
    partition int NOT NULL,
    key text NOT NULL,
    value text NOT NULL,
    headers jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
  );
  CREATE INDEX IF NOT EXISTS bus_message_topic_partition_id ON bus_message (topic, partition, id);
  CREATE TABLE IF NOT EXISTS bus_offset (
    group_id text NOT NULL,
    topic text NOT NULL,
    partition int NOT NULL,
    last_id bigint NOT NULL,
    PRIMARY KEY (group_id, topic, partition)
  );
  CREATE TABLE IF NOT EXISTS bus_pruned (
    topic text NOT NULL,
    partition int NOT NULL,
    last_id bigint NOT NULL,
    PRIMARY KEY (topic, partition)
  );`;

interface Member {
  readonly spec: ConsumerSpec;
  readonly metrics: ConsumerInstrumentation;
  readonly id: number;
  stopping: boolean;
  /** Partition loops currently owned by this member, keyed `topic#partition`. */
  readonly loops: Map<string, Promise<void>>;
  readonly owned: Set<string>;
}

/**
 * An event bus for the embedded single-process default, with Kafka's guarantees and durability:
 * the log and the group offsets live in Postgres, so a SIGKILL loses nothing that was published
 * and redelivers whatever was not yet acknowledged. Members of a group share the partitions of
 * their topics (round-robin, rebalanced as members come and go), exactly like a Kafka group.
 * Only one process may use a given bus database at a time.
 */
export class InProcessBus implements EventBus {
  readonly kind = 'in-process' as const;
  private readonly pool: Pool;
  private readonly partitions: number;
  private readonly pollIntervalMs: number;
  private readonly retentionMs: number;
  private readonly wake = new EventEmitter();
  private readonly groups = new Map<string, Member[]>();
  private schemaReady: Promise<void> | undefined;
  private publishChain: Promise<unknown> = Promise.resolve();
  private nextMemberId = 1;
  private closed = false;
  private pruneTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private lastSeenId = '0';
  /** Bumped on every wake-up (per topic, and for all): a loop that saw a bump while it read does not go to sleep. */
  private readonly wakes = new Map<string, number>();
  private removeLagSource: (() => void) | undefined;

  constructor(options: InProcessBusOptions) {
    this.pool = options.pool;
    this.partitions = options.partitions ?? 4;
    this.pollIntervalMs = options.pollIntervalMs ?? 1_000;
    this.retentionMs = options.retentionMs ?? 7 * 24 * 3600_000;
    this.wake.setMaxListeners(0);
    // An idle connection dies when Postgres restarts or shuts down first (Ctrl-C reaches the whole
    // process group): pg discards it, and without a listener the 'error' event would crash the process.
    this.pool.on('error', (error) => options.logger?.warn({ err: error }, 'event bus: idle Postgres connection lost'));
  }

  private ensureSchema(): Promise<void> {
    this.schemaReady ??= (async () => {
      // Serialise concurrent CREATE IF NOT EXISTS across connections.
      const client = await this.pool.connect();
      try {
        await client.query('SELECT pg_advisory_lock(7419001)');
        await client.query(SCHEMA);
      } finally {
        await client.query('SELECT pg_advisory_unlock(7419001)').catch(() => undefined);
        client.release();
      }
      this.pruneTimer = setInterval(() => void this.prune(), 3600_000);
      this.pruneTimer.unref();
      // One statement per interval for the whole bus, however many partitions its groups read.
      this.pollTimer = setInterval(() => void this.pollForGrowth(), this.pollIntervalMs);
      this.pollTimer.unref();
      this.removeLagSource = eventBusMetrics().lag.addSource(memoize(() => this.consumerLag()));
    })();
    return this.schemaReady;
  }

  async publish(messages: readonly OutgoingMessage[]): Promise<void> {
    if (this.closed) throw new Error('Event bus is closed.');
    if (messages.length === 0) return;
    await this.ensureSchema();
    // Publishes are serialised so that ids commit in id order: a consumer that has read id N
    // never later sees a smaller id appear in its partition.
    const touched = new Set<string>();
    const run = this.publishChain.then(async () => {
      const values: unknown[] = [];
      const rows = messages.map((m, i) => {
        const partition = partitionFor(m.key, this.partitions);
        touched.add(`${m.topic}#${partition}`);
        values.push(m.topic, partition, m.key, m.value, JSON.stringify(m.headers ?? {}));
        const b = i * 5;
        return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}::jsonb)`;
      });
      await this.pool.query(`INSERT INTO bus_message (topic, partition, key, value, headers) VALUES ${rows.join(', ')}`, values);
    });
    this.publishChain = run.catch(() => undefined);
    await run;
    // Only the loops of the partitions that grew: waking every partition of the topic cost each
    // of the others an empty read.
    for (const tp of touched) this.wakeUp(tp);
  }

  async subscribe(spec: ConsumerSpec): Promise<Consumer> {
    if (this.closed) throw new Error('Event bus is closed.');
    await this.ensureSchema();
    if (spec.fromBeginning === false) {
      // A new group that starts at the end: record the current end as its position.
      for (const topic of spec.topics) {
        for (let p = 0; p < this.partitions; p++) {
          await this.pool.query(
            `INSERT INTO bus_offset (group_id, topic, partition, last_id)
             VALUES ($1, $2, $3, (SELECT coalesce(max(id), 0) FROM bus_message))
             ON CONFLICT DO NOTHING`,
            [spec.groupId, topic, p],
          );
        }
      }
    }
    const metrics = instrumentConsumer(spec);
    const member: Member = { spec: metrics.spec, metrics, id: this.nextMemberId++, stopping: false, loops: new Map(), owned: new Set() };
    const members = this.groups.get(spec.groupId) ?? [];
    members.push(member);
    this.groups.set(spec.groupId, members);
    this.rebalance(spec.groupId);
    return { stop: () => this.leave(member) };
  }

  private async leave(member: Member): Promise<void> {
    member.stopping = true;
    member.owned.clear();
    this.wakeUp('*');
    await Promise.all(member.loops.values());
    const members = (this.groups.get(member.spec.groupId) ?? []).filter((m) => m !== member);
    this.groups.set(member.spec.groupId, members);
    this.rebalance(member.spec.groupId);
  }

  /** Assigns each topic-partition of the group to one member, round-robin. */
  private rebalance(groupId: string): void {
    const members = (this.groups.get(groupId) ?? []).filter((m) => !m.stopping);
    const topics = [...new Set(members.flatMap((m) => m.spec.topics))].sort();
    const assignment = new Map<Member, Set<string>>(members.map((m) => [m, new Set<string>()]));
    let i = 0;
    for (const topic of topics) {
      const candidates = members.filter((m) => m.spec.topics.includes(topic));
      for (let p = 0; p < this.partitions; p++) {
        const owner = candidates[i++ % candidates.length];
        if (owner) assignment.get(owner)?.add(`${topic}#${p}`);
      }
    }
    for (const [member, tps] of assignment) {
      member.owned.clear();
      for (const tp of tps) member.owned.add(tp);
      for (const tp of tps) {
        if (!member.loops.has(tp)) {
          const loop = this.runPartition(member, tp).finally(() => member.loops.delete(tp));
          member.loops.set(tp, loop);
        }
      }
    }
    this.wakeUp('*');
  }

  private async runPartition(member: Member, tp: string): Promise<void> {
    const [topic = '', partitionText = '0'] = tp.split('#');
    const partition = Number(partitionText);
    const { groupId } = member.spec;
    // Wait for the previous owner (if any) of this partition in the group to let go.
    await this.waitUntilFree(groupId, tp, member);
    const running = () => !member.stopping && !this.closed && member.owned.has(tp);
    // The loop reads from its own position; the group's offset follows it, written at most every
    // OFFSET_COMMIT_INTERVAL_MS while busy and IDLE_OFFSET_COMMIT_MS after its last write once idle,
    // and always before letting go of the partition (a crash redelivers what was handled
    // since: the consumers' inbox makes that harmless). Writes are serialised: never backwards.
    let position: string | undefined;
    let committed: string | undefined;
    let committedAt = Date.now();
    let writes: Promise<void> = Promise.resolve();
    let idleTimer: NodeJS.Timeout | undefined;
    const write = async (): Promise<void> => {
      if (position === undefined || position === committed) return;
      const at = position;
      await this.pool.query(
        `INSERT INTO bus_offset (group_id, topic, partition, last_id) VALUES ($1, $2, $3, $4)
         ON CONFLICT (group_id, topic, partition) DO UPDATE SET last_id = excluded.last_id`,
        [groupId, topic, partition, at],
      );
      committed = at;
      committedAt = Date.now();
    };
    const commit = (): Promise<void> => {
      const next = writes.then(write);
      writes = next.catch(() => undefined);
      return next;
    };
    /** Before idling: at once when the last write is old enough, else once the interval is over. */
    const commitSoon = async (): Promise<void> => {
      const wait = IDLE_OFFSET_COMMIT_MS - (Date.now() - committedAt);
      if (wait <= 0) return commit();
      idleTimer ??= setTimeout(() => {
        idleTimer = undefined;
        void commit().catch(() => undefined);
      }, wait);
    };
    try {
      while (running()) {
        const wakes = this.wakesOf(tp);
        if (position === undefined) {
          const start = await this.pool
            .query<{ last_id: string }>('SELECT last_id FROM bus_offset WHERE group_id = $1 AND topic = $2 AND partition = $3', [groupId, topic, partition])
            .catch(() => undefined);
          if (!start) {
            await sleep(this.pollIntervalMs);
            continue;
          }
          position = committed = start.rows[0]?.last_id ?? '0';
        }
        const { rows } = (await this.pool
          .query<{ id: string; key: string; value: string; headers: Record<string, string> }>(
            'SELECT id, key, value, headers FROM bus_message WHERE topic = $1 AND partition = $2 AND id > $3 ORDER BY id LIMIT $4',
            [topic, partition, position, FETCH_LIMIT],
          )
          .catch(() => undefined)) ?? {};
        if (!rows) {
          // The database is out of reach for a moment (a restart): try again shortly.
          await sleep(this.pollIntervalMs);
          continue;
        }
        if (rows.length === 0) {
          await commitSoon().catch(() => undefined);
          // Woken while reading (a publish, a rebalance, a stop): look again instead of sleeping.
          if (running() && this.wakesOf(tp) === wakes) await this.waitForWake(tp);
          continue;
        }
        const batchSize = member.spec.handleBatch ? (member.spec.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE) : 1;
        for (let start = 0; start < rows.length; start += batchSize) {
          if (!running()) return;
          const batch = rows.slice(start, start + batchSize).map((row) => ({ topic, partition, offset: row.id, key: row.key, value: row.value, headers: row.headers }));
          const { done, stopped } = await deliverBatch(
            member.spec,
            batch,
            (dlq) => this.publish([dlq]),
            () => member.stopping || this.closed,
            (_message, outcome) => member.metrics.finished(topic, outcome),
          );
          if (done > 0) position = batch[done - 1]!.offset;
          if (stopped) return;
          if (Date.now() - committedAt >= OFFSET_COMMIT_INTERVAL_MS) await commit();
        }
        // A short read took everything there was; unless this partition was woken since it began
        // (a publish to it, a rebalance, a stop), idle now instead of reading once more to find nothing.
        if (rows.length < FETCH_LIMIT && running() && this.wakesOf(tp) === wakes) {
          await commitSoon().catch(() => undefined);
          if (running() && this.wakesOf(tp) === wakes) await this.waitForWake(tp);
        }
      }
    } finally {
      if (idleTimer) clearTimeout(idleTimer);
      await commit().catch(() => undefined);
    }
  }

  private async waitUntilFree(groupId: string, tp: string, self: Member): Promise<void> {
    for (;;) {
      const busy = (this.groups.get(groupId) ?? []).some((m) => m !== self && m.loops.has(tp));
      if (!busy) return;
      await sleep(10);
    }
  }

  private wakeUp(topic: string): void {
    this.wakes.set(topic, (this.wakes.get(topic) ?? 0) + 1);
    this.wake.emit(topic);
  }

  /** A token that changes whenever the loop of `tp` (`topic#partition`) is woken. */
  private wakesOf(tp: string): string {
    return `${this.wakes.get(tp) ?? 0}/${this.wakes.get('*') ?? 0}`;
  }

  /** Wakes every partition loop when the log grew and nobody said so (see pollIntervalMs). */
  private async pollForGrowth(): Promise<void> {
    if (this.closed || this.groups.size === 0) return;
    const { rows } = await this.pool.query<{ id: string }>('SELECT coalesce(max(id), 0)::text AS id FROM bus_message').catch(() => ({ rows: [] as Array<{ id: string }> }));
    const id = rows[0]?.id;
    if (id === undefined || id === this.lastSeenId) return;
    // Also on the first look: a message published before it (by another handle on this database,
    // as a restarted process does) must not wait for the next one.
    this.lastSeenId = id;
    this.wakeUp('*');
  }

  private waitForWake(tp: string): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wake.off(tp, done);
        this.wake.off('*', done);
        resolve();
      };
      // The growth poll wakes loops; this timer only bounds a wait that would otherwise be missed.
      const timer = setTimeout(done, 30_000);
      this.wake.once(tp, done);
      this.wake.once('*', done);
    });
  }

  /**
   * Unacknowledged messages per durable group of this process and topic: the messages after the
   * group's offset in each partition (a group that never committed lags by the whole retained topic).
   */
  private async consumerLag(): Promise<Array<{ labels: { service: string; topic: string }; value: number }>> {
    const pairs = new Map<string, { group: string; topic: string }>();
    for (const [groupId, members] of this.groups) {
      if (consumerGroupLabels(groupId).consumer !== 'durable') continue;
      for (const m of members) for (const topic of m.spec.topics) pairs.set(`${groupId}\u0000${topic}`, { group: groupId, topic });
    }
    if (pairs.size === 0) return [];
    const list = [...pairs.values()];
    const { rows } = await this.pool.query<{ group_id: string; topic: string; lag: number }>(
      `SELECT p.group_id, p.topic, count(m.id)::int AS lag
         FROM unnest($1::text[], $2::text[]) AS p(group_id, topic)
         LEFT JOIN bus_message m ON m.topic = p.topic
          AND m.id > coalesce((SELECT o.last_id FROM bus_offset o WHERE o.group_id = p.group_id AND o.topic = p.topic AND o.partition = m.partition), 0)
        GROUP BY p.group_id, p.topic`,
      [list.map((p) => p.group), list.map((p) => p.topic)],
    );
    return rows.map((r) => ({ labels: { service: r.group_id, topic: r.topic }, value: r.lag }));
  }

  /**
   * Deletes the messages older than the retention (hourly; also callable at once, e.g. by tests)
   * and records, per partition, the newest id it removed: a subscription cursor before it is expired.
   */
  async prune(retentionMs = this.retentionMs): Promise<void> {
    await this.ensureSchema();
    await this.pool
      .query(
        `WITH gone AS (DELETE FROM bus_message WHERE created_at < now() - ($1 || ' milliseconds')::interval RETURNING topic, partition, id)
         INSERT INTO bus_pruned (topic, partition, last_id) SELECT topic, partition, max(id) FROM gone GROUP BY topic, partition
         ON CONFLICT (topic, partition) DO UPDATE SET last_id = greatest(bus_pruned.last_id, excluded.last_id)`,
        [String(retentionMs)],
      )
      .catch(() => undefined);
  }

  /** The log by position: ids are one sequence for the whole bus, in commit order (publishes are serialised). */
  readonly log: EventLog = {
    bounds: async (topics: readonly string[]): Promise<PartitionBounds[]> => {
      await this.ensureSchema();
      const { rows } = await this.pool.query<{ last: string; topic: string; partition: number; removed: string | null }>(
        `SELECT (SELECT coalesce(max(id), 0) FROM bus_message)::text AS last, t.topic, p.partition, r.last_id::text AS removed
           FROM unnest($1::text[]) AS t(topic) CROSS JOIN generate_series(0, $2 - 1) AS p(partition)
           LEFT JOIN bus_pruned r ON r.topic = t.topic AND r.partition = p.partition`,
        [[...topics], this.partitions],
      );
      return rows.map((r) => ({ topic: r.topic, partition: r.partition, last: r.last, removed: r.removed ?? '-1' }));
    },
    read: async (ranges: readonly LogRange[]): Promise<Array<Omit<BusMessage, 'attempt'>>> => {
      if (ranges.length === 0) return [];
      await this.ensureSchema();
      const { rows } = await this.pool.query<{ id: string; topic: string; partition: number; key: string; value: string; headers: Record<string, string> }>(
        `SELECT m.id, m.topic, m.partition, m.key, m.value, m.headers
           FROM unnest($1::text[], $2::int[], $3::bigint[], $4::bigint[]) AS r(topic, partition, after, up_to)
           JOIN bus_message m ON m.topic = r.topic AND m.partition = r.partition AND m.id > r.after AND m.id <= r.up_to
          ORDER BY m.id`,
        [ranges.map((r) => r.topic), ranges.map((r) => r.partition), ranges.map((r) => r.after), ranges.map((r) => r.upTo)],
      );
      return rows.map((r) => ({ topic: r.topic, partition: r.partition, offset: r.id, key: r.key, value: r.value, headers: r.headers }));
    },
  };

  async isReady(): Promise<boolean> {
    if (this.closed) return false;
    try {
      await this.pool.query('SELECT 1');
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const members = [...this.groups.values()].flat();
    for (const m of members) m.stopping = true;
    this.wakeUp('*');
    await Promise.all(members.flatMap((m) => [...m.loops.values()]));
    this.groups.clear();
    this.removeLagSource?.();
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    if (this.pollTimer) clearInterval(this.pollTimer);
    await this.publishChain;
  }
}
