import type { Context } from '@opentelemetry/api';
import { context } from '@opentelemetry/api';
import { currentRequestId } from '../request-id';
import { AsyncQueue } from './queue';

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
    const subscribers = this.topics.get(topic);
    if (!subscribers) return;
    const time = occurredAt === undefined ? undefined : new Date(occurredAt).getTime();
    const event: LiveEvent<Topics[K]> = { payload, eventTime: Number.isFinite(time) ? time : undefined, trace: context.active(), ...requestIdField() };
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
    const leave = (): void => {
      subscribers.delete(subscriber);
      if (subscribers.size === 0 && this.topics.get(topic) === subscribers) this.topics.delete(topic);
    };
    const queue = new AsyncQueue<LiveEvent<Topics[K]>>({
      capacity: maxBuffered,
      overflow: 'fail',
      overflowError: () => new Error(`Subscription fell more than ${maxBuffered} events behind and was ended.`),
      onOverflow: leave,
      onClose: leave,
    });
    const subscriber: Subscriber = {
      accept: (payload) => !options.filter || options.filter(payload as Topics[K]),
      deliver: (event) => void queue.push(event as LiveEvent<Topics[K]>),
    };
    subscribers.add(subscriber);
    return queue;
  }
}
