import { counter, gauge, histogram } from '@shop/platform';

/**
 * Subscription metrics of the gateway. Labels are bounded: root fields and subgraph names come
 * from the supergraph schema, never from client input.
 */
export const subscriptionMetrics = {
  active: gauge({ name: 'gateway_subscriptions_active', help: 'Client subscriptions open on the gateway, by root field.', labelNames: ['root_field'] }),
  connections: gauge({ name: 'gateway_subscription_connections_active', help: 'graphql-ws client connections open on the gateway.' }),
  upstreams: gauge({ name: 'gateway_subscription_upstreams_active', help: 'Subscriptions the gateway holds open on subgraphs (shared by identical client subscriptions), by subgraph.', labelNames: ['subgraph'] }),
  upstreamReconnects: counter({ name: 'gateway_subscription_upstream_reconnects_total', help: 'Reconnections of the gateway to a subgraph graphql-ws endpoint after a drop, by subgraph.', labelNames: ['subgraph'] }),
  delivered: counter({ name: 'gateway_subscription_events_delivered_total', help: 'Subscription events sent to clients (one per client), by root field.', labelNames: ['root_field'] }),
  latency: histogram({
    name: 'gateway_subscription_delivery_latency_seconds',
    help: 'From the domain event (its occurredAt, or its arrival at the gateway when unknown) to the send to the client, by root field.',
    labelNames: ['root_field'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  }),
  droppedSlowClients: counter({ name: 'gateway_subscription_slow_clients_dropped_total', help: 'Client connections closed because they did not read their events fast enough.' }),
  restErrors: counter({ name: 'gateway_subscription_rest_errors_total', help: 'Events delivered with errors from the rest of the plan (entity fetches on other subgraphs), by root field.', labelNames: ['root_field'] }),
};
