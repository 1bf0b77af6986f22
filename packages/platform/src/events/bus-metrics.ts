import { counter, sourcedGauge } from '../metrics';
import type { ConsumerSpec } from './bus';

/**
 * The `service` and `consumer` labels of a consumer group. Durable groups are named after their
 * service (`orders`); live listener groups are `<service>.live.<instance>`, one per replica, which
 * would make an unbounded label value, so they fold into `{ service, consumer: 'live' }`.
 */
export function consumerGroupLabels(groupId: string): { service: string; consumer: 'durable' | 'live' } {
  const live = /^(.+)\.live\.[^.]+$/.exec(groupId);
  return live ? { service: live[1] ?? groupId, consumer: 'live' } : { service: groupId, consumer: 'durable' };
}

/** The consumer-side event metrics, shared by both adapters (same names, same labels). */
export function eventBusMetrics() {
  return {
    consumed: counter({
      name: 'events_consumed_total',
      help: 'Events a consumer group finished with, by service (consumer group), consumer kind (durable or live), topic and outcome (handled or dead_lettered).',
      labelNames: ['service', 'consumer', 'topic', 'outcome'],
    }),
    deliveryFailures: counter({
      name: 'events_delivery_failures_total',
      help: 'Failed delivery attempts (the handler threw; the event is retried, then dead-lettered), by service, consumer kind and topic.',
      labelNames: ['service', 'consumer', 'topic'],
    }),
    deadLettered: counter({
      name: 'events_dead_lettered_total',
      help: 'Events moved to a dead-letter topic after failing every delivery attempt, by service (consumer group), consumer kind and source topic.',
      labelNames: ['service', 'consumer', 'topic'],
    }),
    lag: sourcedGauge({
      name: 'events_consumer_lag_messages',
      help: 'Messages published to a topic that a durable consumer group has not yet acknowledged, by service (consumer group) and topic.',
      labelNames: ['service', 'topic'],
    }),
  };
}

/** What an adapter calls around each delivery to keep the consumer metrics. */
export interface ConsumerInstrumentation {
  /** The spec to run: same as the given one, with failed attempts counted. */
  readonly spec: ConsumerSpec;
  /** Records how a message ended (after `deliverWithRetry`). */
  finished(topic: string, outcome: 'handled' | 'dead-lettered' | 'stopped'): void;
}

/**
 * Wraps a consumer spec for metrics. Every counter starts at zero for each subscribed topic, so
 * that `increase()` (the dead-letter alert) also sees the very first event of a series.
 */
export function instrumentConsumer(spec: ConsumerSpec): ConsumerInstrumentation {
  const m = eventBusMetrics();
  const group = consumerGroupLabels(spec.groupId);
  for (const topic of spec.topics) {
    m.consumed.inc({ ...group, topic, outcome: 'handled' }, 0);
    m.consumed.inc({ ...group, topic, outcome: 'dead_lettered' }, 0);
    m.deliveryFailures.inc({ ...group, topic }, 0);
    m.deadLettered.inc({ ...group, topic }, 0);
  }
  return {
    spec: {
      ...spec,
      handle: async (message) => {
        try {
          await spec.handle(message);
        } catch (error) {
          m.deliveryFailures.inc({ ...group, topic: message.topic });
          throw error;
        }
      },
    },
    finished: (topic, outcome) => {
      if (outcome === 'stopped') return;
      m.consumed.inc({ ...group, topic, outcome: outcome === 'handled' ? 'handled' : 'dead_lettered' });
      if (outcome === 'dead-lettered') m.deadLettered.inc({ ...group, topic });
    },
  };
}
