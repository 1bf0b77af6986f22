/**
 * The event bus port. Two adapters implement it with the same guarantees, proven by one
 * contract test suite (tests/event-bus.contract.test.ts):
 * - per-key ordering (a key always maps to one partition, consumed sequentially);
 * - at-least-once delivery (an offset is committed only after the handler succeeded);
 * - consumer groups (each group sees each message once; members of a group share partitions);
 * - redelivery when a handler throws, with backoff, then a dead-letter topic after `maxAttempts`.
 */

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
  /** Deliveries before a message is dead-lettered. Default 5. */
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
 * Runs a handler with in-place redelivery: retries with backoff until it succeeds or
 * `maxAttempts` is reached, then hands the message to `deadLetter`. Blocking the partition
 * while retrying is what keeps per-key order.
 */
export async function deliverWithRetry(
  spec: ConsumerSpec,
  message: Omit<BusMessage, 'attempt'>,
  deadLetter: (msg: OutgoingMessage) => Promise<void>,
  isStopping: () => boolean,
): Promise<'handled' | 'dead-lettered' | 'stopped'> {
  const maxAttempts = spec.maxAttempts ?? 5;
  for (let attempt = 1; ; attempt++) {
    try {
      await spec.handle({ ...message, attempt });
      return 'handled';
    } catch (error) {
      const poison = error instanceof PoisonMessageError;
      if (poison || attempt >= maxAttempts) {
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

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
