import type { DataSource, EntityManager } from 'typeorm';
import type { Logger } from '../logger';
import { extractTraceContext, SERVICE_ATTRIBUTE, tracer } from '../tracing';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { BusMessage, Consumer, EventBus } from './bus';
import type { EventDefinition } from '@shop/events';
import type { EventEnvelope } from './envelope';
import { parseEnvelope, parseEventData } from './envelope';

/** A handler of one event type that runs inside the consumer's transaction. */
export interface EventHandler<T = unknown> {
  readonly event: EventDefinition<T>;
  handle(event: EventEnvelope<T>, tx: EntityManager): Promise<void>;
}

/** Binds a transactional handler to an event definition. */
export function on<T>(event: EventDefinition<T>, handle: (event: EventEnvelope<T>, tx: EntityManager) => Promise<void>): EventHandler<T> {
  return { event, handle };
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

/**
 * Subscribes a service's transactional handlers: each event is validated, then handled in one
 * transaction together with its inbox row `(consumer, event_id)`, so a redelivered event has no
 * second effect. Events of types with no handler are acknowledged and skipped.
 */
export async function startEventConsumers(options: ConsumerOptions): Promise<Consumer> {
  const byType = indexByType(options.handlers);
  const topics = [...new Set(options.handlers.map((h) => h.event.topic))];
  return options.bus.subscribe({
    groupId: options.groupId,
    topics,
    ...(options.maxAttempts !== undefined ? { maxAttempts: options.maxAttempts } : {}),
    handle: async (message: BusMessage) => {
      const envelope = parseEnvelope(message.value);
      const handler = byType.get(envelope.type);
      if (!handler) return;
      const event = parseEventData(handler.event, envelope);
      const started = process.hrtime.bigint();
      let outcome: 'ok' | 'duplicate' | 'error' = 'ok';
      // Continues the producer's trace (its context travels in the envelope's meta and the
      // message headers); events the handler adds are children of this span.
      const parent = extractTraceContext({ ...message.headers, ...(envelope.meta ?? {}) });
      const span = tracer().startSpan(`${event.type} process`, {
        kind: SpanKind.CONSUMER,
        attributes: { [SERVICE_ATTRIBUTE]: options.groupId, 'messaging.destination.name': message.topic, 'messaging.message.id': event.id, 'shop.delivery.attempt': message.attempt },
      }, parent);
      try {
        await context.with(trace.setSpan(parent, span), () => options.dataSource.transaction(async (tx) => {
          const inserted = (await tx.query('INSERT INTO inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING event_id', [
            options.groupId,
            event.id,
          ])) as unknown[];
          if (inserted.length === 0) {
            outcome = 'duplicate';
            return;
          }
          await handler.handle(event, tx);
        }));
      } catch (error) {
        outcome = 'error';
        span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
        // Inside the span, so that the log line carries its trace id.
        context.with(trace.setSpan(parent, span), () => options.logger.warn({ err: error, eventType: event.type, eventId: event.id, attempt: message.attempt }, 'event handler failed'));
        throw error;
      } finally {
        span.setAttribute('shop.outcome', outcome);
        span.end();
        options.onHandled?.(event.type, Number(process.hrtime.bigint() - started) / 1e9, outcome);
      }
      if (outcome === 'ok') options.afterCommit?.();
    },
  });
}

/**
 * Subscribes live handlers that every replica must see (e.g. to push GraphQL subscription events):
 * a group of its own per process, starting at the end of the log.
 */
export async function startLiveListener(options: { bus: EventBus; groupId: string; handlers: ReadonlyArray<LiveHandler<any>>; logger: Logger }): Promise<Consumer> {
  const byType = indexByType(options.handlers);
  return options.bus.subscribe({
    groupId: options.groupId,
    topics: [...new Set(options.handlers.map((h) => h.event.topic))],
    fromBeginning: false,
    maxAttempts: 1,
    handle: async (message) => {
      const envelope = parseEnvelope(message.value);
      const handler = byType.get(envelope.type);
      if (!handler) return;
      await handler.handle(parseEventData(handler.event, envelope));
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
