import type { DataSource, EntityManager } from 'typeorm';
import type { Logger } from '../logger';
import { requestIdFrom, withRequestId } from '../request-id';
import { extractTraceContext, SERVICE_ATTRIBUTE, tracer } from '../tracing';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { BusMessage, Consumer, EventBus } from './bus';
import type { EventDefinition } from '@shop/events';
import type { EventEnvelope } from './envelope';
import { parseEnvelope, parseEventData } from './envelope';
import { inLiveScope } from '../live/live-scope';

/** A handler of one event type that runs inside the consumer's transaction. */
export interface EventHandler<T = unknown> {
  readonly event: EventDefinition<T>;
  handle(event: EventEnvelope<T>, tx: EntityManager): Promise<void>;
  /**
   * False when the handler must have a transaction of its own: it locks rows that events of other
   * partitions lock too (two such events in one transaction could lock them in an order another
   * consumer's transaction crosses: a deadlock). Default true: it may share a batch's transaction.
   */
  readonly batchable: boolean;
  /** See {@link HandlerOptions.lockBatch}. */
  readonly lockBatch?: BatchLock;
}

/**
 * Takes, in one global order, every lock that a batch's events will take (e.g. rows sorted by
 * id), before any of them is handled in the batch's transaction.
 */
export type BatchLock = (events: ReadonlyArray<EventEnvelope<any>>, tx: EntityManager) => Promise<void>;

export interface HandlerOptions {
  /** See {@link EventHandler.batchable}. Default true. */
  readonly batchable?: boolean;
  /**
   * Lets a handler that locks rows other partitions' events lock too share a batch's
   * transaction: when a batch holds more than one new event whose handler has this same
   * function, it is called once, with all of them, before any is handled. Handlers that lock the
   * same rows must share one function (one lock order for all of them). Implies `batchable`.
   */
  readonly lockBatch?: BatchLock;
}

/** Binds a transactional handler to an event definition. */
export function on<T>(event: EventDefinition<T>, handle: (event: EventEnvelope<T>, tx: EntityManager) => Promise<void>, options: HandlerOptions = {}): EventHandler<T> {
  const batchable = options.lockBatch ? true : (options.batchable ?? true);
  return { event, handle, batchable, ...(options.lockBatch ? { lockBatch: options.lockBatch } : {}) };
}

/** A handler for live (non-durable) listeners: no transaction, no inbox. */
export interface LiveHandler<T = unknown> {
  readonly event: EventDefinition<T>;
  handle(event: EventEnvelope<T>): void | Promise<void>;
}

export function onLive<T>(event: EventDefinition<T>, handle: (event: EventEnvelope<T>) => void | Promise<void>): LiveHandler<T> {
  return { event, handle };
}

export interface ConsumerOptions {
  readonly bus: EventBus;
  readonly dataSource: DataSource;
  /** The consumer group (the service name): each group handles each event once. */
  readonly groupId: string;
  readonly handlers: ReadonlyArray<EventHandler<any>>;
  readonly logger: Logger;
  /** Called after a handler's transaction committed (e.g. to wake the outbox relay). */
  readonly afterCommit?: () => void;
  /** Observes each handled event (metrics). */
  readonly onHandled?: (type: string, seconds: number, outcome: 'ok' | 'duplicate' | 'error') => void;
  readonly maxAttempts?: number;
}

/** One consumed event ready to handle: its handler, its payload validated, where it came from. */
interface Consumed {
  readonly handler: EventHandler<any>;
  readonly event: EventEnvelope<any>;
  readonly message: BusMessage;
}

/**
 * Subscribes a service's transactional handlers: each event is validated, then handled in one
 * transaction together with its inbox row `(consumer, event_id)`, so a redelivered event has no
 * second effect. Events of types with no handler are acknowledged and skipped.
 *
 * Batches: consecutive events of one partition run in one transaction (one inbox statement for
 * all of them, one commit), except those whose handler is not `batchable`, which get a
 * transaction each, in their place in the order. A failing batch rolls back and the bus delivers
 * its events one by one, each in its own transaction, where retries and dead-lettering apply.
 */
export async function startEventConsumers(options: ConsumerOptions): Promise<Consumer> {
  const byType = indexByType(options.handlers);
  const topics = [...new Set(options.handlers.map((h) => h.event.topic))];
  const consumed = (message: BusMessage): Consumed | undefined => {
    const envelope = parseEnvelope(message.value);
    const handler = byType.get(envelope.type);
    return handler ? { handler, event: parseEventData(handler.event, envelope), message } : undefined;
  };
  /** Handles `items` in one transaction; answers how many were new (not in the inbox yet). */
  const inOneTransaction = async (items: readonly Consumed[]): Promise<number> => {
    const started = process.hrtime.bigint();
    const spans = items.map((item) => consumerSpan(item, options.groupId));
    let fresh = 0;
    try {
      await options.dataSource.transaction(async (tx) => {
        const inserted = (await tx.query('INSERT INTO inbox (consumer, event_id) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING RETURNING event_id', [
          options.groupId,
          items.map((i) => i.event.id),
        ])) as Array<{ event_id: string }>;
        const toHandle = new Set(inserted.map((r) => r.event_id));
        // Locks shared by several new events of the batch: taken first, once, in their one order.
        const locking = new Map<BatchLock, Array<EventEnvelope<any>>>();
        const seen = new Set<string>();
        for (const item of items) {
          const lock = item.handler.lockBatch;
          if (!lock || !toHandle.has(item.event.id) || seen.has(item.event.id)) continue;
          seen.add(item.event.id);
          locking.set(lock, [...(locking.get(lock) ?? []), item.event]);
        }
        for (const [lock, events] of locking) if (events.length > 1) await lock(events, tx);
        for (const [index, item] of items.entries()) {
          const span = spans[index]!;
          if (!toHandle.delete(item.event.id)) {
            span.outcome = 'duplicate';
            continue;
          }
          await span.run(async () => {
            await item.handler.handle(item.event, tx);
            options.logger.debug({ eventType: item.event.type, eventId: item.event.id, attempt: item.message.attempt }, 'event handled');
          });
          fresh++;
        }
      });
    } catch (error) {
      for (const span of spans) span.fail(error);
      // Inside the (first) span, so that the log line carries its trace id.
      const first = items[0]!;
      spans[0]!.run(() =>
        options.logger.warn({ err: error, eventType: first.event.type, eventId: first.event.id, events: items.length, attempt: first.message.attempt }, 'event handler failed'),
      );
      throw error;
    } finally {
      // A batch's time is shared out evenly among its events.
      const seconds = Number(process.hrtime.bigint() - started) / 1e9 / items.length;
      for (const [index, item] of items.entries()) {
        const outcome = spans[index]!.end();
        options.onHandled?.(item.event.type, seconds, outcome);
      }
    }
    if (fresh > 0) options.afterCommit?.();
    return fresh;
  };
  return options.bus.subscribe({
    groupId: options.groupId,
    topics,
    ...(options.maxAttempts !== undefined ? { maxAttempts: options.maxAttempts } : {}),
    handle: async (message: BusMessage) => {
      const item = consumed(message);
      if (item) await inOneTransaction([item]);
    },
    handleBatch: async (messages) => {
      // Runs of batchable events share a transaction; any other event has one of its own.
      let run: Consumed[] = [];
      for (const message of messages) {
        const item = consumed(message);
        if (!item) continue;
        if (item.handler.batchable) {
          run.push(item);
          continue;
        }
        if (run.length) await inOneTransaction(run);
        run = [];
        await inOneTransaction([item]);
      }
      if (run.length) await inOneTransaction(run);
    },
  });
}

/** The consumer span of one event, continuing its producer's trace (context from the envelope's meta and the message headers). */
function consumerSpan({ event, message }: Consumed, groupId: string) {
  const parent = extractTraceContext({ ...message.headers, ...(event.meta ?? {}) });
  const span = tracer().startSpan(
    `${event.type} process`,
    { kind: SpanKind.CONSUMER, attributes: { [SERVICE_ATTRIBUTE]: groupId, 'messaging.destination.name': message.topic, 'messaging.message.id': event.id, 'shop.delivery.attempt': message.attempt } },
    parent,
  );
  let outcome: 'ok' | 'duplicate' | 'error' = 'ok';
  const spanContext = trace.setSpan(parent, span);
  const requestId = requestIdFrom({ ...message.headers, ...(event.meta ?? {}) });
  return {
    /** Runs `fn` in this span (events the handler adds are its children) and the event's request id. */
    run<T>(fn: () => T): T {
      return requestId === undefined ? context.with(spanContext, fn) : withRequestId(requestId, () => context.with(spanContext, fn));
    },
    set outcome(value: 'duplicate') {
      outcome = value;
    },
    fail(error: unknown): void {
      outcome = 'error';
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
    },
    end(): 'ok' | 'duplicate' | 'error' {
      span.setAttribute('shop.outcome', outcome);
      span.end();
      return outcome;
    },
  };
}

/** What a live listener also tells (live/resume.ts's {@link LiveLog} follows its positions). */
export interface LiveListenOptions {
  /** Called after each message was handled (or found no handler), in order per partition. */
  readonly onHandled?: (message: BusMessage) => void;
}

/**
 * Subscribes live handlers that every replica must see (e.g. to push GraphQL subscription events):
 * a group of its own per process, starting at the end of the log.
 */
export async function startLiveListener(options: { bus: EventBus; groupId: string; handlers: ReadonlyArray<LiveHandler<any>>; logger: Logger } & LiveListenOptions): Promise<Consumer> {
  const byType = indexByType(options.handlers);
  return options.bus.subscribe({
    groupId: options.groupId,
    topics: [...new Set(options.handlers.map((h) => h.event.topic))],
    fromBeginning: false,
    maxAttempts: 1,
    handle: async (message) => {
      const envelope = parseEnvelope(message.value);
      const handler = byType.get(envelope.type);
      if (!handler) return options.onHandled?.(message);
      // In the event's trace and request id: what the handler publishes (a subscription event) continues them.
      const carrier = { ...message.headers, ...(envelope.meta ?? {}) };
      const position = { topic: message.topic, partition: message.partition, offset: message.offset };
      // With its position in the log: what it publishes carries it (resumable subscriptions' cursors).
      const handle = async (): Promise<void> => {
        await inLiveScope({ position }, () => context.with(extractTraceContext(carrier), () => handler.handle(parseEventData(handler.event, envelope))));
      };
      const requestId = requestIdFrom(carrier);
      await (requestId === undefined ? handle() : withRequestId(requestId, handle));
      options.onHandled?.(message);
    },
  });
}

function indexByType<H extends { event: EventDefinition<any> }>(handlers: readonly H[]): Map<string, H> {
  const map = new Map<string, H>();
  for (const h of handlers) {
    if (map.has(h.event.type)) throw new Error(`Two handlers for ${h.event.type}`);
    map.set(h.event.type, h);
  }
  return map;
}
