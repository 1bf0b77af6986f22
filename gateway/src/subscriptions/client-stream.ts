import type { ExecutionResult } from 'graphql';
import { subscriptionMetrics } from './metrics';

/** One event ready for a client: the complete result and when its domain event happened. */
export interface Delivery {
  readonly result: ExecutionResult;
  /** ms since the epoch; the latency histogram measures from it to the send. */
  readonly eventTime: number;
}

export interface ClientStreamOptions {
  /** The subscription's root field (metrics label). */
  readonly rootField: string;
  /** Events held for a client that has not taken them yet; one more calls `onOverflow`. */
  readonly maxPending: number;
  /** Called once when the client falls more than `maxPending` events behind. */
  readonly onOverflow: (stream: ClientStream) => void;
  /** Called once when the stream ends, whoever ends it (client, upstream, shutdown, expiry). */
  readonly onClose: (stream: ClientStream) => void;
}

/**
 * The async iterator graphql-ws reads one client subscription from. graphql-ws sends one event at a
 * time and waits for the socket to take it before asking for the next, so a client that does not
 * read makes this queue grow: it is bounded, and the overflow hook drops the client (never blocking
 * the upstream or the other clients). Events are delivered in the order they were pushed.
 */
export class ClientStream implements AsyncGenerator<ExecutionResult, undefined, unknown> {
  private readonly queue: Delivery[] = [];
  private wake: (() => void) | undefined;
  private ending = false;
  private closed = false;
  private overflowed = false;
  private resolveFinished!: () => void;
  /** Resolves when graphql-ws has taken the last event (or the stream was abandoned). */
  readonly finished = new Promise<void>((resolve) => (this.resolveFinished = resolve));

  constructor(private readonly options: ClientStreamOptions) {
    subscriptionMetrics.active.inc({ root_field: options.rootField });
  }

  get rootField(): string {
    return this.options.rootField;
  }

  /** Events waiting for the client. */
  get pending(): number {
    return this.queue.length;
  }

  get isEnding(): boolean {
    return this.ending || this.closed;
  }

  /** Queues one event; past `maxPending` the overflow hook runs and later events are discarded. */
  push(delivery: Delivery): void {
    if (this.ending || this.closed || this.overflowed) return;
    if (this.queue.length >= this.options.maxPending) {
      this.overflowed = true;
      this.queue.length = 0; // the client is being dropped: free its backlog now
      this.options.onOverflow(this);
      return;
    }
    this.queue.push(delivery);
    this.wake?.();
  }

  /** Ends the stream after the queued events (and `last`, if given): graphql-ws then sends `complete`. */
  end(last?: ExecutionResult): void {
    if (this.ending || this.closed) return;
    if (last) this.queue.push({ result: last, eventTime: Date.now() });
    this.ending = true;
    this.wake?.();
  }

  async next(): Promise<IteratorResult<ExecutionResult, undefined>> {
    for (;;) {
      if (this.closed) return { done: true, value: undefined };
      const delivery = this.queue.shift();
      if (delivery) {
        // graphql-ws sends what we return right away: this is the moment of the send.
        subscriptionMetrics.delivered.inc({ root_field: this.options.rootField });
        subscriptionMetrics.latency.observe({ root_field: this.options.rootField }, Math.max(0, Date.now() - delivery.eventTime) / 1000);
        return { done: false, value: delivery.result };
      }
      if (this.ending) {
        this.close();
        return { done: true, value: undefined };
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }

  /** The client completed, the socket closed, or graphql-ws stopped reading. */
  async return(): Promise<IteratorResult<ExecutionResult, undefined>> {
    this.close();
    return { done: true, value: undefined };
  }

  async throw(error: unknown): Promise<IteratorResult<ExecutionResult, undefined>> {
    this.close();
    throw error;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.return();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.length = 0;
    subscriptionMetrics.active.dec({ root_field: this.options.rootField });
    this.wake?.();
    this.options.onClose(this);
    this.resolveFinished();
  }
}
