import type { Context } from '@opentelemetry/api';
import { context } from '@opentelemetry/api';
import { currentRequestId } from '../request-id';
import { AsyncQueue } from './queue';
import type { LivePosition } from './live-scope';
import { currentLiveScope } from './live-scope';
import type { CursorPositions, LiveResume } from './resume';
import { encodeCursor } from './resume';

function requestIdField(): { requestId?: string } {
  const id = currentRequestId();
  return id === undefined ? {} : { requestId: id };
}

/** What a subscription field's `resolve` receives for one published payload. */
export interface LiveEvent<T> {
  readonly payload: T;
  /** When the domain event behind it happened (ms since the epoch), if known: the delivery latency starts there. */
  readonly eventTime: number | undefined;
  /** The trace context it was published in (the live listener's, continuing the domain event's trace). */
  readonly trace?: Context;
  /** The request id active when it was published (the operation that caused the domain event). */
  readonly requestId?: string;
  /** Where its message sits in the bus log (published by a live listener, or replayed). */
  readonly position?: LivePosition;
  /** The subscription's cursor as of this event (resumable subscriptions: `extensions.cursor`). */
  readonly cursor?: string;
  /** Set on the last value of a subscription that cannot go on (a resume past retention, a log that could not be read): it ends with this error. */
  readonly failure?: Error;
}

/** True for a value published through a {@link LivePubSub}. */
export function isLiveEvent(value: unknown): value is LiveEvent<unknown> {
  return typeof value === 'object' && value !== null && 'payload' in value && 'eventTime' in value;
}

export interface LiveSubscribeOptions<T> {
  /** Keeps only the payloads it accepts. Default: every payload of the topic. */
  readonly filter?: (payload: T) => boolean;
  /**
   * Payloads held for a subscriber that has not taken them yet. Beyond it the subscription ends with
   * an error rather than growing without bound. Default 1000.
   */
  readonly maxBuffered?: number;
  /**
   * Makes the subscription resumable (live/resume.ts): each event carries its cursor, and with a
   * cursor to resume from, the events after it are replayed from the log first. Default: live only.
   */
  readonly resume?: LiveResume | undefined;
}

interface Subscriber {
  accept(payload: object): boolean;
  deliver(event: LiveEvent<object>): void;
}

/**
 * A per-replica, in-memory publish/subscribe for GraphQL subscriptions, typed by its topic map
 * (topic name → payload). `publish` is synchronous and every subscriber has its own FIFO queue, so
 * payloads published in order are delivered in order. A service builds one in its `setup`.
 */
export class LivePubSub<Topics extends { readonly [K in keyof Topics]: object }> {
  private readonly topics = new Map<keyof Topics, Set<Subscriber>>();

  /** Publishes `payload` on `topic`; `occurredAt` is when its domain event happened. */
  publish<K extends keyof Topics>(topic: K, payload: Topics[K], occurredAt?: string | Date): void {
    const scope = currentLiveScope();
    // A replay runs the live handlers to learn what they would publish: nothing goes to subscribers.
    if (scope?.capture) return scope.capture(topic, payload, occurredAt);
    const subscribers = this.topics.get(topic);
    if (!subscribers) return;
    const time = occurredAt === undefined ? undefined : new Date(occurredAt).getTime();
    const event: LiveEvent<Topics[K]> = { payload, eventTime: Number.isFinite(time) ? time : undefined, trace: context.active(), ...requestIdField(), ...(scope ? { position: scope.position } : {}) };
    for (const subscriber of subscribers) if (subscriber.accept(payload)) subscriber.deliver(event);
  }

  /** Subscribers currently on `topic` (all topics when omitted). */
  subscriberCount(topic?: keyof Topics): number {
    if (topic !== undefined) return this.topics.get(topic)?.size ?? 0;
    let n = 0;
    for (const set of this.topics.values()) n += set.size;
    return n;
  }

  /** The topic's events from now on; `return()` unsubscribes. */
  subscribe<K extends keyof Topics>(topic: K, options: LiveSubscribeOptions<Topics[K]> = {}): AsyncQueue<LiveEvent<Topics[K]>> {
    const maxBuffered = options.maxBuffered ?? 1000;
    const subscribers = this.topics.get(topic) ?? new Set<Subscriber>();
    this.topics.set(topic, subscribers);
    let subscriber: Subscriber | undefined;
    const join = (s: Subscriber): void => {
      subscriber = s;
      subscribers.add(s);
    };
    const leave = (): void => {
      if (subscriber) subscribers.delete(subscriber);
      if (subscribers.size === 0 && this.topics.get(topic) === subscribers) this.topics.delete(topic);
    };
    const queue = new AsyncQueue<LiveEvent<Topics[K]>>({
      capacity: maxBuffered,
      overflow: 'fail',
      overflowError: () => new Error(`Subscription fell more than ${maxBuffered} events behind and was ended.`),
      onOverflow: leave,
      onClose: leave,
    });
    const accept = (payload: object): boolean => !options.filter || options.filter(payload as Topics[K]);
    const resume = options.resume;
    if (!resume) {
      join({ accept, deliver: (event) => void queue.push(event as LiveEvent<Topics[K]>) });
      return queue;
    }
    // Resumable: every event carries the subscription's cursor as of it.
    const seen: CursorPositions = resume.from ? new Map() : resume.log.start();
    const advance = (position: LivePosition | undefined): string => {
      if (position) {
        const partitions = seen.get(position.topic) ?? new Map<number, bigint>();
        seen.set(position.topic, partitions);
        const offset = BigInt(position.offset);
        if ((partitions.get(position.partition) ?? -1n) < offset) partitions.set(position.partition, offset);
      }
      return encodeCursor(seen);
    };
    const alreadySeen = (position: LivePosition | undefined): boolean => position !== undefined && (seen.get(position.topic)?.get(position.partition) ?? -1n) >= BigInt(position.offset);
    const send = (event: LiveEvent<object>): void => {
      // Delivered live before (a redelivery by the bus, or what the replay already gave): left out.
      if (alreadySeen(event.position)) return;
      void queue.push({ ...event, cursor: advance(event.position) } as LiveEvent<Topics[K]>);
    };
    if (!resume.from) {
      join({ accept, deliver: send });
      return queue;
    }
    // Resuming: hold every live event (unfiltered: a filter may keep state, such as the newest
    // version seen, and must see the replayed events first) while the log is replayed.
    const held: Array<LiveEvent<object>> = [];
    let replaying = true;
    join({ accept: (payload) => replaying || accept(payload), deliver: (event) => (replaying ? void held.push(event) : send(event)) });
    const from = resume.from;
    const end = (failure: Error): void => queue.end({ payload: {}, eventTime: undefined, failure } as LiveEvent<Topics[K]>);
    void resume.log
      .replay(from)
      .then((outcome) => {
        if (queue.isEnding) return;
        if (!('publishes' in outcome)) return end(outcome);
        for (const [t, partitions] of from) seen.set(t, new Map(partitions));
        for (const p of outcome.publishes) {
          if (p.topic !== topic || alreadySeen(p.position) || !accept(p.payload)) continue;
          const time = p.occurredAt === undefined ? undefined : new Date(p.occurredAt).getTime();
          send({ payload: p.payload, eventTime: Number.isFinite(time) ? time : undefined, position: p.position });
        }
        // Up to the end the replay read: the held events at or before it were replayed (or filtered out).
        for (const [t, partitions] of outcome.reached) {
          const mine = seen.get(t) ?? new Map<number, bigint>();
          seen.set(t, mine);
          for (const [partition, offset] of partitions) if ((mine.get(partition) ?? -1n) < offset) mine.set(partition, offset);
        }
        replaying = false;
        for (const event of held.splice(0)) if (!alreadySeen(event.position) && accept(event.payload)) send(event);
      })
      .catch((error: unknown) => end(error instanceof Error ? error : new Error(String(error))));
    return queue;
  }
}
