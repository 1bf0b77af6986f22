/**
 * The event bus port. Two adapters implement it with the same guarantees, proven by one
 * contract test suite (tests/event-bus.contract.test.ts):
 * - per-key ordering (a key always maps to one partition, consumed sequentially);
 * - at-least-once delivery (an offset is committed only after the handler succeeded);
 * - consumer groups (each group sees each message once; members of a group share partitions);
 * - redelivery when a handler throws, with backoff, then a dead-letter topic after `maxAttempts`
 *   failures (a database that cannot serve is waited for: it is not the message's failure);
 * - batches: a consumer with `handleBatch` gets up to `maxBatchSize` messages of one partition at
 *   a time, in order, and its offset is committed once per batch; when a batch fails, its messages
 *   are delivered again one by one (`handle`, with the retries and dead-lettering above), so a
 *   poison message holds back only itself.
 */
import { isDatabaseUnavailable } from '../db/unavailable';

export interface OutgoingMessage {
  readonly topic: string;
  readonly key: string;
  readonly value: string;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface BusMessage {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: string;
  readonly value: string;
  readonly headers: Readonly<Record<string, string>>;
  /** 1 on first delivery, incremented on each redelivery after a failure. */
  readonly attempt: number;
}

export interface ConsumerSpec {
  readonly groupId: string;
  readonly topics: readonly string[];
  /** Handles one message; throw to have it redelivered. Messages of one key arrive in order. */
  handle(message: BusMessage): Promise<void>;
  /**
   * Handles several consecutive messages of one partition at once, all or nothing (e.g. in one
   * transaction). Optional: without it every message goes through `handle`. When it throws, the
   * same messages go through `handle` one by one, so it must be safe to repeat (an inbox).
   */
  handleBatch?(messages: readonly BusMessage[]): Promise<void>;
  /** Most messages handed to `handleBatch` at once. Default {@link DEFAULT_MAX_BATCH_SIZE}. */
  readonly maxBatchSize?: number;
  /** Failed deliveries before a message is dead-lettered (those failed by an unavailable database do not count). Default 5. */
  readonly maxAttempts?: number;
  /** Delay before the first redelivery, doubled each time up to 5 s. Default 100 ms. */
  readonly retryDelayMs?: number;
  /** Where a new group starts: true = the oldest retained message (default), false = only new messages. */
  readonly fromBeginning?: boolean;
  /** Topic for messages that failed `maxAttempts` times. Default `dlq.<groupId>`. */
  readonly deadLetterTopic?: string;
}

export interface Consumer {
  /** Stops fetching, waits for the handler in flight to finish, leaves the group. */
  stop(): Promise<void>;
}

export interface EventBus {
  readonly kind: 'kafka' | 'in-process';
  /** Resolves once the messages are durably accepted by the bus, in the given order per key. */
  publish(messages: readonly OutgoingMessage[]): Promise<void>;
  subscribe(spec: ConsumerSpec): Promise<Consumer>;
  /** True when the bus can accept and deliver messages (readiness probe). */
  isReady(): Promise<boolean>;
  /** Stops every consumer (draining in-flight handlers) and disconnects. */
  close(): Promise<void>;
  /** Reads of the retained log by position (replaying resumable subscriptions, live/resume.ts); both adapters have it. */
  readonly log?: EventLog;
}

/** One partition of a topic as the log holds it now. Offsets are decimal strings (Kafka offsets, the in-process log's sequence). */
export interface PartitionBounds {
  readonly topic: string;
  readonly partition: number;
  /** The newest offset written ("-1" when none): a position from which nothing is left to read. */
  readonly last: string;
  /** The newest offset removed by retention ("-1" when none): a position before it can no longer be replayed. */
  readonly removed: string;
}

/** Messages of one partition after `after` up to and including `upTo`. */
export interface LogRange {
  readonly topic: string;
  readonly partition: number;
  readonly after: string;
  readonly upTo: string;
}

/**
 * The bus's retained log, read by position, outside any consumer group: what a resuming
 * subscription replays (events after its cursor) before it goes live.
 */
export interface EventLog {
  /** Every partition of `topics` (the topics are created when missing). */
  bounds(topics: readonly string[]): Promise<PartitionBounds[]>;
  /** The messages of the ranges, each partition in offset order (partitions in any order). */
  read(ranges: readonly LogRange[]): Promise<Array<Omit<BusMessage, 'attempt'>>>;
}

/** Thrown by a handler for a message that can never succeed (e.g. invalid payload): dead-lettered at once. */
export class PoisonMessageError extends Error {
  override readonly name = 'PoisonMessageError';
}

export const DEAD_LETTER_HEADERS = {
  originalTopic: 'x-dlq-original-topic',
  originalPartition: 'x-dlq-original-partition',
  originalOffset: 'x-dlq-original-offset',
  error: 'x-dlq-error',
  attempts: 'x-dlq-attempts',
} as const;

export function defaultDeadLetterTopic(groupId: string): string {
  return `dlq.${groupId}`;
}

export function retryDelay(baseMs: number, attempt: number): number {
  return Math.min(5_000, baseMs * 2 ** (attempt - 1));
}

/** Stable partition for a key (murmur-free FNV-1a; only the in-process adapter uses it). */
export function partitionFor(key: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % partitions;
}

/**
 * Runs a handler with in-place redelivery: retries with backoff until it succeeds or it failed
 * `maxAttempts` times, then hands the message to `deadLetter`. Failures because the database
 * cannot serve do not count (see {@link isDatabaseUnavailable}): the message is fine, so it waits
 * for the database instead of being dead-lettered. Blocking the partition while retrying is what
 * keeps per-key order.
 */
export async function deliverWithRetry(
  spec: ConsumerSpec,
  message: Omit<BusMessage, 'attempt'>,
  deadLetter: (msg: OutgoingMessage) => Promise<void>,
  isStopping: () => boolean,
): Promise<'handled' | 'dead-lettered' | 'stopped'> {
  const maxAttempts = spec.maxAttempts ?? 5;
  let failures = 0;
  for (let attempt = 1; ; attempt++) {
    try {
      await spec.handle({ ...message, attempt });
      return 'handled';
    } catch (error) {
      const poison = error instanceof PoisonMessageError;
      // A database that cannot serve (down, restarting) says nothing about the message: retried
      // (backing off up to 5 s) until it is back or the consumer stops, never dead-lettered.
      if (!poison && !isDatabaseUnavailable(error)) failures++;
      if (poison || failures >= maxAttempts) {
        await deadLetter({
          topic: spec.deadLetterTopic ?? defaultDeadLetterTopic(spec.groupId),
          key: message.key,
          value: message.value,
          headers: {
            ...message.headers,
            [DEAD_LETTER_HEADERS.originalTopic]: message.topic,
            [DEAD_LETTER_HEADERS.originalPartition]: String(message.partition),
            [DEAD_LETTER_HEADERS.originalOffset]: message.offset,
            [DEAD_LETTER_HEADERS.error]: String(error instanceof Error ? error.message : error).slice(0, 500),
            [DEAD_LETTER_HEADERS.attempts]: String(attempt),
          },
        });
        return 'dead-lettered';
      }
      if (isStopping()) return 'stopped';
      await sleep(retryDelay(spec.retryDelayMs ?? 100, attempt));
    }
  }
}

/** Messages one `handleBatch` call gets at most, unless the consumer says otherwise. */
export const DEFAULT_MAX_BATCH_SIZE = 50;

/** What became of a run of messages: how many are done (handled or dead-lettered), in order, and whether the consumer is stopping. */
export interface BatchOutcome {
  readonly done: number;
  readonly stopped: boolean;
}

/**
 * Delivers consecutive messages of one partition: all at once through `handleBatch` when the
 * consumer has one (and there is more than one), else, or when the batch failed, one by one with
 * {@link deliverWithRetry}. `finished` is told the outcome of each message, in order.
 */
export async function deliverBatch(
  spec: ConsumerSpec,
  messages: ReadonlyArray<Omit<BusMessage, 'attempt'>>,
  deadLetter: (msg: OutgoingMessage) => Promise<void>,
  isStopping: () => boolean,
  finished: (message: Omit<BusMessage, 'attempt'>, outcome: 'handled' | 'dead-lettered' | 'stopped') => void,
): Promise<BatchOutcome> {
  if (spec.handleBatch && messages.length > 1) {
    try {
      await spec.handleBatch(messages.map((m) => ({ ...m, attempt: 1 })));
      for (const m of messages) finished(m, 'handled');
      return { done: messages.length, stopped: false };
    } catch {
      // One by one: the messages before a failing one are handled (again, harmlessly), and only
      // the failing one is retried and, in the end, dead-lettered.
    }
  }
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i]!;
    if (isStopping()) return { done: i, stopped: true };
    const outcome = await deliverWithRetry(spec, message, deadLetter, isStopping);
    finished(message, outcome);
    if (outcome === 'stopped') return { done: i, stopped: true };
  }
  return { done: messages.length, stopped: false };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
