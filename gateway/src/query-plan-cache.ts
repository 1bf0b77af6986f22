import type { QueryPlan, QueryPlanCache } from '@apollo/query-planner';
import { counter, histogram, sourcedGauge } from '@shop/platform';

export interface QueryPlanCacheOptions {
  /** Plans kept (least recently used evicted first). Default 2000: a few MiB for a typical API. */
  readonly maxEntries?: number;
}

/**
 * The gateway's query-plan cache, measured: `gateway_query_plan_cache_requests_total{result}`
 * (hit or miss), `gateway_query_planning_duration_seconds` and `gateway_query_plan_cache_entries`.
 *
 * @apollo/gateway looks a plan up with `get`, builds it on a miss and stores it with `set`, with
 * nothing else in between; so the time from a missed `get` to the `set` of the same key is the
 * planning time. Passed as `queryPlannerConfig.cache` (the gateway's supported way to replace its
 * cache); bounded by entry count rather than by the default cache's approximate size in MiB.
 */
export function measuredQueryPlanCache(options: QueryPlanCacheOptions = {}): QueryPlanCache {
  const maxEntries = options.maxEntries ?? 2000;
  const requests = counter({ name: 'gateway_query_plan_cache_requests_total', help: 'Query-plan cache lookups at the gateway, by result (hit, miss).', labelNames: ['result'] });
  const planning = histogram({
    name: 'gateway_query_planning_duration_seconds',
    help: 'Time the gateway spent building a query plan (cache misses only), in seconds.',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
  });
  const plans = new Map<string, QueryPlan>();
  measureEntries(new WeakRef(plans));
  requests.inc({ result: 'hit' }, 0);
  requests.inc({ result: 'miss' }, 0);
  /** Start of planning per missed key; bounded, since a plan that fails to build is never set. */
  const missedAt = new Map<string, bigint>();
  return {
    async get(key) {
      const plan = plans.get(key);
      if (plan) {
        // Re-insert: Map keeps insertion order, so the first key is the least recently used.
        plans.delete(key);
        plans.set(key, plan);
        requests.inc({ result: 'hit' });
        return plan;
      }
      requests.inc({ result: 'miss' });
      if (missedAt.size >= 1000) missedAt.clear();
      missedAt.set(key, process.hrtime.bigint());
      return undefined;
    },
    async set(key, value) {
      const t0 = missedAt.get(key);
      if (t0 !== undefined) {
        missedAt.delete(key);
        planning.observe(Number(process.hrtime.bigint() - t0) / 1e9);
      }
      plans.delete(key);
      plans.set(key, value);
      while (plans.size > maxEntries) plans.delete(plans.keys().next().value as string);
    },
    async delete(key) {
      return plans.delete(key);
    },
    clear() {
      plans.clear();
    },
  };
}

/**
 * Adds the cache's size to `gateway_query_plan_cache_entries`. The cache is held weakly (and from a
 * scope of its own, so no closure keeps it alive): a stopped gateway's cache, once collected,
 * leaves the gauge; tests start several gateways per process.
 */
function measureEntries(ref: WeakRef<Map<string, QueryPlan>>): void {
  const remove = sourcedGauge({ name: 'gateway_query_plan_cache_entries', help: 'Query plans held in the gateway cache.' }).addSource(async () => {
    const plans = ref.deref();
    if (!plans) remove();
    return plans ? [{ labels: {}, value: plans.size }] : [];
  });
}
