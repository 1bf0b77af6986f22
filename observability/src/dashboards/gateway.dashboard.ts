import type { DashboardSpec } from './kit';
import { row, stat, timeseries } from './kit';

const gw = 'service="gateway"';

/** Where is it slow? The gateway's operations, its subgraph fetches, query planning and subscriptions. */
export const gatewayDashboard: DashboardSpec = {
  uid: 'shop-gateway',
  title: 'Shop / Gateway',
  description: 'Client operations at the gateway, latency of each subgraph, the query-plan cache and GraphQL subscriptions.',
  tags: ['gateway'],
  rows: [
    row('Operations', [
      timeseries('Operations by type', { expr: `sum by (type) (rate(graphql_operations_total{${gw}}[$__rate_interval]))`, legend: '{{type}}' }, {
        description: 'Client operations per second by type (query, mutation).',
        unit: 'reqps',
        stacked: true,
        width: 8,
      }),
      timeseries('Operations by outcome', { expr: `sum by (outcome) (rate(graphql_operations_total{${gw}}[$__rate_interval]))`, legend: '{{outcome}}' }, {
        description: 'ok, client_error (bad input, not signed in…: the client\'s fault) and server_error.',
        unit: 'reqps',
        stacked: true,
        width: 8,
      }),
      timeseries('Top operations', { expr: `topk(10, sum by (name) (rate(graphql_operations_total{${gw}}[$__rate_interval])))`, legend: '{{name}}' }, {
        description: 'The 10 busiest operation names (names beyond the first 100 seen fold into "other").',
        unit: 'reqps',
        width: 8,
      }),
      timeseries(
        'Operation latency',
        [
          { expr: `histogram_quantile(0.5, sum by (le) (rate(graphql_operation_duration_seconds_bucket{${gw}}[$__rate_interval])))`, legend: 'p50' },
          { expr: `histogram_quantile(0.95, sum by (le) (rate(graphql_operation_duration_seconds_bucket{${gw}}[$__rate_interval])))`, legend: 'p95' },
          { expr: `histogram_quantile(0.99, sum by (le) (rate(graphql_operation_duration_seconds_bucket{${gw}}[$__rate_interval])))`, legend: 'p99' },
        ],
        { description: 'End-to-end duration of client operations at the gateway (planning, subgraph fetches, merging).', unit: 's', thresholds: [[0.2, 'red']] },
      ),
      timeseries('Errors by code', { expr: `sum by (code) (rate(graphql_errors_total{${gw}}[$__rate_interval]))`, legend: '{{code}}' }, {
        description: 'Errors returned to clients per second by extensions.code.',
        unit: 'short',
      }),
    ]),
    row('Subgraphs', [
      timeseries('Subgraph fetch latency p95', { expr: 'histogram_quantile(0.95, sum by (subgraph, le) (rate(gateway_subgraph_fetch_duration_seconds_bucket[$__rate_interval])))', legend: '{{subgraph}}' }, {
        description: '95th percentile duration of the gateway\'s fetches to each subgraph.',
        unit: 's',
        width: 8,
      }),
      timeseries('Subgraph fetches per second', { expr: 'sum by (subgraph) (rate(gateway_subgraph_fetch_duration_seconds_count[$__rate_interval]))', legend: '{{subgraph}}' }, {
        description: 'Fetches per second from the gateway to each subgraph (one client operation may fetch from several).',
        unit: 'reqps',
        width: 8,
      }),
      timeseries('Subgraph errors', { expr: 'sum by (subgraph, kind) (rate(gateway_subgraph_errors_total[$__rate_interval]))', legend: '{{subgraph}} {{kind}}' }, {
        description: 'Failed fetches (kind=fetch: network error, non-2xx) and responses with GraphQL errors (kind=graphql) per second.',
        unit: 'short',
        width: 8,
      }),
      timeseries('Subgraph latency p95, 4 weeks', { expr: 'subgraph:gateway_subgraph_fetch_duration_seconds:p95_5m', legend: '{{subgraph}}' }, {
        description: 'p95 subgraph fetch latency',
        unit: 's',
        timeFrom: '4w',
        width: 24,
      }),
    ]),
    row('Query planning', [
      timeseries(
        'Plan cache hit ratio',
        { expr: 'sum(rate(gateway_query_plan_cache_requests_total{result="hit"}[$__rate_interval])) / sum(rate(gateway_query_plan_cache_requests_total[$__rate_interval]))', legend: 'hit ratio' },
        { description: 'Share of operations whose query plan came from the cache (a low ratio means many distinct operations, e.g. literals inlined instead of variables).', unit: 'percentunit', min: 0, max: 1, width: 8 },
      ),
      timeseries(
        'Query planning time',
        [
          { expr: 'histogram_quantile(0.5, sum by (le) (rate(gateway_query_planning_duration_seconds_bucket[$__rate_interval])))', legend: 'p50' },
          { expr: 'histogram_quantile(0.99, sum by (le) (rate(gateway_query_planning_duration_seconds_bucket[$__rate_interval])))', legend: 'p99' },
        ],
        { description: 'Time to build a query plan on a cache miss.', unit: 's', width: 8 },
      ),
      stat('Cached plans', { expr: 'sum(gateway_query_plan_cache_entries)' }, { description: 'Query plans held in the cache.', width: 8, height: 8 }),
    ]),
    row('Entity cache', [
      timeseries(
        'Entity cache hit ratio',
        { expr: 'sum by (service) (rate(gateway_cache_lookups_total{result="hit"}[$__rate_interval])) / sum by (service) (rate(gateway_cache_lookups_total[$__rate_interval]))', legend: '{{service}}' },
        { description: 'Share of cacheable subgraph answers (public entities and root lists, by cache hints) served fresh from the gateway cache, by subgraph. Stale answers (subgraph down) and unavailable ones count as not hits: see gateway_cache_lookups_total by result.', unit: 'percentunit', min: 0, max: 1, width: 24 },
      ),
    ]),
    row('Authentication', [
      timeseries('Token verifications by outcome', { expr: 'sum by (outcome) (rate(gateway_auth_token_verification_duration_seconds_count[$__rate_interval]))', legend: '{{outcome}}' }, {
        description: 'Access tokens verified per second: valid, expired, revoked (signed out, password reset) or invalid (a rise: forged or tampered tokens).',
        unit: 'short',
        stacked: true,
      }),
      timeseries('Token verification p95', { expr: 'histogram_quantile(0.95, sum by (le) (rate(gateway_auth_token_verification_duration_seconds_bucket[$__rate_interval])))', legend: 'p95' }, {
        description: 'Time to verify a client access token (signature, claims, revocation list) at the gateway.',
        unit: 's',
      }),
    ]),
    row('Subscriptions', [
      timeseries(
        'Open subscriptions',
        [
          { expr: 'sum by (root_field) (gateway_subscriptions_active)', legend: '{{root_field}}' },
          { expr: 'sum(gateway_subscription_connections_active)', legend: 'WebSocket connections' },
        ],
        { description: 'Client subscriptions open on the gateway by root field, and graphql-ws connections.', unit: 'short', width: 8 },
      ),
      timeseries('Subscription events delivered', { expr: 'sum by (root_field) (rate(gateway_subscription_events_delivered_total[$__rate_interval]))', legend: '{{root_field}}' }, {
        description: 'Events sent to subscribed clients per second (one per client).',
        unit: 'short',
        width: 8,
      }),
      timeseries('Upstream subscriptions', { expr: 'sum by (subgraph) (gateway_subscription_upstreams_active)', legend: '{{subgraph}}' }, {
        description: 'Subscriptions the gateway holds open on subgraphs (identical client subscriptions share one).',
        unit: 'short',
        width: 8,
      }),
    ]),
    row('Edge: rate limits and safelist', [
      timeseries('Rate-limited requests', { expr: 'sum by (budget, caller, transport) (rate(gateway_rate_limited_total[$__rate_interval]))', legend: '{{budget}} {{caller}} {{transport}}' }, {
        description: 'Requests, connections and subscribe messages refused with RATE_LIMITED (HTTP 429), by budget (requests, mutations, cost), caller kind and transport.',
        unit: 'reqps',
        stacked: true,
        width: 8,
      }),
      timeseries('Rate-limit store', { expr: 'min(gateway_rate_limit_store_up)', legend: 'Redis up (0: replicas count on their own)' }, {
        description: 'Whether every gateway reaches the shared Redis of the budgets; at 0 each replica counts in memory (budgets per replica).',
        unit: 'short',
        width: 8,
      }),
      timeseries('Operations and the safelist', { expr: 'sum by (outcome) (rate(gateway_persisted_operations_total[$__rate_interval]))', legend: '{{outcome}}' }, {
        description: 'Operations by their relation to the safelist of persisted operations: safelisted, ad_hoc (let through, allow mode) and refused (PERSISTED_QUERY_NOT_LISTED, require mode).',
        unit: 'reqps',
        stacked: true,
        width: 8,
      }),
    ]),
  ],
};
