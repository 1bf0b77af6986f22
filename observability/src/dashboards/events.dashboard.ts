import type { DashboardSpec } from './kit';
import { row, stat, timeseries } from './kit';

/** Are events flowing? Outbox relays, the bus, consumers, lag and dead letters. */
export const eventsDashboard: DashboardSpec = {
  uid: 'shop-events',
  title: 'Shop / Events',
  description: 'Event throughput from the outboxes to the consumers, consumer lag, outbox backlog and dead letters (Kafka or the in-process bus: same metrics).',
  tags: ['events'],
  rows: [
    row('Throughput', [
      timeseries('Published per second', { expr: 'sum by (service, topic) (rate(events_published_total[$__rate_interval]))', legend: '{{service}} → {{topic}}' }, {
        description: 'Events the outbox relays published per second, by producing service and topic.',
        unit: 'short',
        width: 8,
      }),
      timeseries('Consumed per second', { expr: 'sum by (service, consumer, outcome) (rate(events_consumed_total[$__rate_interval]))', legend: '{{service}} {{consumer}} {{outcome}}' }, {
        description: 'Events each consumer group finished with per second (handled or dead-lettered); durable groups are the services, live groups feed subscriptions.',
        unit: 'short',
        width: 8,
      }),
      timeseries('Handler duration p95', { expr: 'histogram_quantile(0.95, sum by (service, le) (rate(events_handled_duration_seconds_bucket[$__rate_interval])))', legend: '{{service}}' }, {
        description: '95th percentile time to handle one event in its transaction (inbox row included).',
        unit: 's',
        width: 8,
      }),
      timeseries('Handler outcomes', { expr: 'sum by (service, outcome) (rate(events_handled_duration_seconds_count[$__rate_interval]))', legend: '{{service}} {{outcome}}' }, {
        description: 'ok, duplicate (a redelivery the inbox ignored) and error (retried) per second.',
        unit: 'short',
        stacked: true,
      }),
      timeseries('Delivery failures', { expr: 'sum by (service, topic) (rate(events_delivery_failures_total[$__rate_interval]))', legend: '{{service}} {{topic}}' }, {
        description: 'Failed delivery attempts per second (the handler threw; retried with backoff, then dead-lettered).',
        unit: 'short',
      }),
    ]),
    row('Lag and backlog', [
      timeseries('Consumer lag', { expr: 'sum by (service, topic) (events_consumer_lag_messages)', legend: '{{service}} ← {{topic}}' }, {
        description: 'Messages published but not yet acknowledged by each durable consumer group. Alert: ShopConsumerLagGrowing.',
        unit: 'short',
        width: 8,
      }),
      timeseries('Outbox backlog', { expr: 'sum by (service) (events_outbox_backlog)', legend: '{{service}}' }, {
        description: 'Outbox rows committed but not yet published, by service.',
        unit: 'short',
        width: 8,
      }),
      timeseries('Oldest outbox row', { expr: 'max by (service) (events_outbox_oldest_age_seconds)', legend: '{{service}}' }, {
        description: 'Age of the oldest unpublished outbox row. Alert: ShopOutboxStale above 60 s.',
        unit: 's',
        thresholds: [[60, 'red']],
        width: 8,
      }),
    ]),
    row('Dead letters and failures', [
      stat('Dead-lettered, last hour', { expr: 'sum(increase(events_dead_lettered_total[1h]))' }, {
        description: 'Events moved to a dead-letter topic in the last hour (should be 0). Alert: ShopEventDeadLettered.',
        thresholds: [[1, 'red']],
        width: 6,
        height: 8,
      }),
      timeseries('Dead-lettered by consumer', { expr: 'sum by (service, topic) (increase(events_dead_lettered_total[$__rate_interval]))', legend: '{{service}} ← {{topic}}' }, {
        description: 'Dead-lettered events by consumer group and source topic (inspect `dlq.<group>`).',
        unit: 'short',
        width: 9,
      }),
      timeseries('Outbox relay failures', { expr: 'sum by (service) (rate(events_publish_failures_total[$__rate_interval]))', legend: '{{service}}' }, {
        description: 'Relay rounds that could not publish (bus unavailable); the rows stay and are retried.',
        unit: 'short',
        width: 9,
      }),
    ]),
    row('Trends (recording rules)', [
      timeseries('Published per second, 4 weeks', { expr: 'service:events_published:rate5m', legend: '{{service}}' }, { description: 'Events published per second by service', unit: 'short', timeFrom: '4w', width: 8 }),
      timeseries('Consumer lag, 4 weeks', { expr: 'service:events_consumer_lag_messages:sum', legend: '{{service}}' }, { description: 'Consumer lag by consumer group', unit: 'short', timeFrom: '4w', width: 8 }),
      timeseries('Oldest outbox row, 4 weeks', { expr: 'service:events_outbox_oldest_age_seconds:max', legend: '{{service}}' }, {
        description: 'Age of the oldest outbox row by service',
        unit: 's',
        timeFrom: '4w',
        width: 8,
      }),
    ]),
  ],
};
