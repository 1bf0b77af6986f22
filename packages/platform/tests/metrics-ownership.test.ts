import { consumerGroupLabels } from '../src/events/bus-metrics';
import { operationOutcome } from '../src/http/graphql-metrics.plugin';
import { filterExposition, memoize, registry, sourcedGauge } from '../src/metrics';

const EXPOSITION = [
  '# HELP graphql_operations_total GraphQL operations.',
  '# TYPE graphql_operations_total counter',
  'graphql_operations_total{service="gateway",type="query",name="Home",outcome="ok"} 3',
  'graphql_operations_total{service="orders",type="query",name="order",outcome="ok"} 2',
  'gateway_query_plan_cache_entries 4',
  'orders_placed_total 7',
  'process_cpu_seconds_total 1.5',
  'events_consumed_total{service="g-test",consumer="durable",topic="t",outcome="handled"} 1',
  '',
].join('\n');
const SERVED = new Set(['gateway', 'users', 'catalog', 'inventory', 'orders']);

describe('metrics exposition per service', () => {
  it('should serve a series only on the endpoint of the service that owns it', () => {
    const orders = filterExposition(EXPOSITION, 'orders', SERVED);
    expect(orders).toContain('graphql_operations_total{service="orders"');
    expect(orders).toContain('orders_placed_total 7');
    expect(orders).not.toContain('service="gateway"');
    expect(orders).not.toContain('gateway_query_plan_cache_entries');
    const gateway = filterExposition(EXPOSITION, 'gateway', SERVED);
    expect(gateway).toContain('gateway_query_plan_cache_entries 4');
    expect(gateway).not.toContain('orders_placed_total');
  });

  it('should serve process-wide series and help text on every endpoint', () => {
    for (const service of SERVED) {
      const text = filterExposition(EXPOSITION, service, SERVED);
      expect(text).toContain('process_cpu_seconds_total 1.5');
      expect(text).toContain('# TYPE graphql_operations_total counter');
      // A consumer group that is not a service of this process is nobody's: served everywhere.
      expect(text).toContain('events_consumed_total{service="g-test"');
    }
  });

  it('should drop nothing in a standalone process', () => {
    expect(filterExposition(EXPOSITION, 'orders', new Set(['orders']))).toBe(EXPOSITION);
  });
});

describe('bounded labels', () => {
  it('should fold live listener groups (one per replica) into their service', () => {
    expect(consumerGroupLabels('orders')).toEqual({ service: 'orders', consumer: 'durable' });
    expect(consumerGroupLabels('orders.live.k3j9x2')).toEqual({ service: 'orders', consumer: 'live' });
  });

  it('should tell server errors from client errors like 5xx from 4xx', () => {
    expect(operationOutcome([])).toBe('ok');
    expect(operationOutcome(['BAD_USER_INPUT', 'NOT_FOUND'])).toBe('client_error');
    expect(operationOutcome(['BAD_USER_INPUT', 'INTERNAL_SERVER_ERROR'])).toBe('server_error');
    expect(operationOutcome(['DOWNSTREAM_SERVICE_ERROR'])).toBe('server_error');
  });
});

describe('gauges measured at scrape time', () => {
  it('should add up the samples of every source and forget a removed source', async () => {
    const g = sourcedGauge({ name: 'test_sourced_gauge_items', help: 'test', labelNames: ['service'] });
    const removeA = g.addSource(async () => [{ labels: { service: 'a' }, value: 2 }]);
    g.addSource(async () => [{ labels: { service: 'a' }, value: 3 }, { labels: { service: 'b' }, value: 1 }]);
    g.addSource(async () => {
      throw new Error('database down');
    });
    let text = await registry.getSingleMetricAsString('test_sourced_gauge_items');
    expect(text).toContain('test_sourced_gauge_items{service="a"} 5');
    expect(text).toContain('test_sourced_gauge_items{service="b"} 1');
    removeA();
    text = await registry.getSingleMetricAsString('test_sourced_gauge_items');
    expect(text).toContain('test_sourced_gauge_items{service="a"} 3');
  });

  it('should measure at most once per interval, and again after a failure', async () => {
    let calls = 0;
    const measure = memoize(async () => {
      calls++;
      if (calls === 1) throw new Error('database down');
      return calls;
    }, 60_000);
    await expect(measure()).rejects.toThrow('database down');
    expect(await measure()).toBe(2);
    expect(await measure()).toBe(2);
    expect(calls).toBe(2);
  });
});
