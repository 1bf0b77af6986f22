import type { DashboardSpec } from './kit';
import { SERVICE_JOBS, row, stat, timeseries } from './kit';

const sel = 'service=~"$service"';
const jobSel = 'job=~"$service"';

/** Is the shop healthy? The golden signals (traffic, errors, latency, saturation) of every service. */
export const overviewDashboard: DashboardSpec = {
  uid: 'shop-overview',
  title: 'Shop / Overview',
  description: 'Golden signals per service: traffic, server errors, latency and saturation; trends over weeks from recording rules.',
  tags: ['overview'],
  serviceVariable: true,
  rows: [
    row('Availability', [
      stat('Targets up', { expr: `min by (job) (up{job=~"${SERVICE_JOBS}"})`, legend: '{{job}}' }, {
        description: 'Whether Prometheus can scrape each service (1 = up). Alert: ShopServiceDown.',
        width: 24,
        height: 4,
        thresholds: [[1, 'green']],
        valueText: { '0': { text: 'DOWN', color: 'red' }, '1': { text: 'UP', color: 'green' } },
      }),
    ]),
    row('Traffic, errors, latency', [
      timeseries('Operations per second', { expr: `sum by (service) (rate(graphql_operations_total{${sel}}[$__rate_interval]))`, legend: '{{service}}' }, {
        description: 'GraphQL operations executed per second, by service (the gateway counts client operations, subgraphs the fetches the gateway sends them).',
        unit: 'reqps',
      }),
      timeseries(
        'Server error ratio',
        {
          expr: `sum by (service) (rate(graphql_operations_total{${sel}, outcome="server_error"}[$__rate_interval])) / sum by (service) (rate(graphql_operations_total{${sel}}[$__rate_interval]))`,
          legend: '{{service}}',
        },
        { description: 'Share of operations that failed through no fault of the client (internal errors, failed subgraphs). Alert: ShopHighErrorRate above 5 %.', unit: 'percentunit', thresholds: [[0.05, 'red']], min: 0 },
      ),
      timeseries(
        'Latency p95',
        { expr: `histogram_quantile(0.95, sum by (service, le) (rate(graphql_operation_duration_seconds_bucket{${sel}}[$__rate_interval])))`, legend: '{{service}}' },
        { description: '95th percentile of GraphQL operation duration. Alert: ShopHighLatency above 200 ms.', unit: 's', thresholds: [[0.2, 'red']] },
      ),
      timeseries('Errors by code', { expr: `sum by (service, code) (rate(graphql_errors_total{${sel}}[$__rate_interval]))`, legend: '{{service}} {{code}}' }, {
        description: 'GraphQL errors per second by extensions.code (client errors such as BAD_USER_INPUT included).',
        unit: 'short',
      }),
      timeseries('HTTP requests by status class', { expr: `sum by (service, status) (rate(http_requests_total{${sel}}[$__rate_interval]))`, legend: '{{service}} {{status}}' }, {
        description: 'HTTP requests per second by status class (GraphQL, health, metrics).',
        unit: 'reqps',
      }),
      timeseries('HTTP latency p95', { expr: `histogram_quantile(0.95, sum by (service, le) (rate(http_request_duration_seconds_bucket{${sel}, route="/graphql"}[$__rate_interval])))`, legend: '{{service}}' }, {
        description: '95th percentile of /graphql HTTP request duration (includes body parsing and serialisation).',
        unit: 's',
      }),
    ]),
    row('Saturation', [
      timeseries('CPU', { expr: `sum by (job) (rate(process_cpu_seconds_total{${jobSel}}[$__rate_interval]))`, legend: '{{job}}' }, {
        description: 'CPU seconds per second of each service process (in the embedded default all services share one process, so the lines coincide).',
        unit: 'percentunit',
        width: 8,
      }),
      timeseries('Resident memory', { expr: `sum by (job) (process_resident_memory_bytes{${jobSel}})`, legend: '{{job}}' }, { description: 'Resident set size of each service process.', unit: 'bytes', width: 8 }),
      timeseries('Event-loop lag p99', { expr: `max by (job) (nodejs_eventloop_lag_p99_seconds{${jobSel}})`, legend: '{{job}}' }, {
        description: '99th percentile event-loop delay: above a few ms the process is CPU-bound or blocked.',
        unit: 's',
        width: 8,
      }),
      timeseries('GC time', { expr: `sum by (job, kind) (rate(nodejs_gc_duration_seconds_sum{${jobSel}}[$__rate_interval]))`, legend: '{{job}} {{kind}}' }, {
        description: 'Seconds per second spent in garbage collection, by GC kind.',
        unit: 'percentunit',
        width: 8,
      }),
      timeseries('Database query p95', { expr: `histogram_quantile(0.95, sum by (service, le) (rate(db_query_duration_seconds_bucket{${sel}}[$__rate_interval])))`, legend: '{{service}}' }, {
        description: '95th percentile duration of database queries (every query TypeORM runs).',
        unit: 's',
        width: 8,
      }),
      timeseries(
        'Database pool in use',
        [
          { expr: `sum by (service) (db_pool_connections{${sel}, state="in_use"}) / sum by (service) (db_pool_max_connections{${sel}})`, legend: '{{service}} in use' },
          { expr: `sum by (service) (db_pool_waiting_requests{${sel}})`, legend: '{{service}} waiting' },
        ],
        { description: 'Share of the connection pool in use, and requests waiting for a connection (above 0: the pool is exhausted).', unit: 'short', width: 8 },
      ),
    ]),
    row('Trends (recording rules)', [
      timeseries('Operations per second, 4 weeks', { expr: `service:graphql_operations:rate5m{${sel}}`, legend: '{{service}}' }, {
        description: 'Operations per second by service',
        unit: 'reqps',
        timeFrom: '4w',
        width: 8,
      }),
      timeseries('Server error ratio, 4 weeks', { expr: `service:graphql_operations_error_ratio:rate5m{${sel}}`, legend: '{{service}}' }, {
        description: 'Server error ratio by service',
        unit: 'percentunit',
        thresholds: [[0.05, 'red']],
        timeFrom: '4w',
        width: 8,
      }),
      timeseries('Latency p95, 4 weeks', { expr: `service:graphql_operation_duration_seconds:p95_5m{${sel}}`, legend: '{{service}}' }, {
        description: 'p95 latency by service',
        unit: 's',
        thresholds: [[0.2, 'red']],
        timeFrom: '4w',
        width: 8,
      }),
    ]),
  ],
};
