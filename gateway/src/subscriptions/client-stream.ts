import type { ExecutionResult } from 'graphql';
import { AsyncQueue } from '@shop/platform';
import { subscriptionMetrics } from './metrics';

/** One event ready for a client: the complete result and when its domain event happened. */
export interface Delivery {
  readonly result: ExecutionResult;
  /** ms since the epoch; the latency histogram measures from it to the send. */
  readonly eventTime: number;
  /** The subscription's cursor as of this event (sent as `extensions.cursor`: resume after it). */
  readonly cursor?: string;
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
 * The async iterator graphql-ws reads one client subscription from: the platform's bounded queue.
 * graphql-ws sends one event at a time and waits for the socket to take it before asking for the
 * next, so a client that does not read makes this queue grow: past `maxPending` the backlog is
 * discarded and the overflow hook drops the client (never blocking the upstream or the other
 * clients). Events are delivered in the order they were pushed.
 */
export class ClientStream extends AsyncQueue<Delivery, ExecutionResult> {
  readonly rootField: string;

  constructor(options: ClientStreamOptions) {
    const rootField = options.rootField;
    super({
      capacity: options.maxPending,
      overflow: 'discard',
      onOverflow: () => options.onOverflow(this),
      // graphql-ws sends what the iterator returns right away: this is the moment of the send.
      take: (delivery) => {
        subscriptionMetrics.delivered.inc({ root_field: rootField });
        subscriptionMetrics.latency.observe({ root_field: rootField }, Math.max(0, Date.now() - delivery.eventTime) / 1000);
        return delivery.cursor === undefined ? delivery.result : { ...delivery.result, extensions: { ...delivery.result.extensions, cursor: delivery.cursor } };
      },
      onClose: () => {
        subscriptionMetrics.active.dec({ root_field: rootField });
        options.onClose(this);
      },
    });
    this.rootField = rootField;
    subscriptionMetrics.active.inc({ root_field: rootField });
  }

  /** Events waiting for the client. */
  get pending(): number {
    return this.size;
  }

  /** Ends the stream after the queued events (and `last`, if given): graphql-ws then sends `complete`. */
  finish(last?: ExecutionResult): void {
    this.end(last && { result: last, eventTime: Date.now() });
  }

  /** Ends the stream at once, dropping the events the client has not taken yet (a revoked session gets nothing more): `last`, then `complete`. */
  cut(last: ExecutionResult): void {
    this.endNow({ result: last, eventTime: Date.now() });
  }
}
