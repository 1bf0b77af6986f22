/**
 * The benchmark's scenarios: which gateways one table compares, and how the load generator
 * authorizes its requests. Each scenario is one interleaved run and one table; `--scenario a,b`
 * runs several, one after the other. A scenario of its own (e.g. the entity cache on) is a file
 * exporting a {@link Scenario} plus its line in {@link SCENARIOS} (and its gateway kinds in
 * gateways.ts when it needs new ones).
 */
import type { Workload } from './cached';
import type { GatewayKind } from './gateways';
import { GATEWAY_KINDS } from './gateways';

export interface Scenario {
  readonly name: string;
  /** What the table measures (its first line). */
  readonly title: string;
  /** The gateways compared, ours first (the ratios are to the first). */
  readonly gateways: readonly GatewayKind[];
  /**
   * `unique`: a unique Authorization per request (a valid access token for ours, an opaque one for
   * the others), so nothing can be shared between requests; `anonymous`: no Authorization at all,
   * every request the same (what coalescing and deduplication can merge).
   */
  readonly authorization: 'unique' | 'anonymous';
  /** The query sent (cached.ts); default the nested listing, or what --workload says. */
  readonly workload?: Workload;
}

const LISTING = "20 products with stock, 3 reviews each with author and the author's order count (4 subgraphs)";

export const UNCACHED: Scenario = {
  name: 'uncached',
  title: `Gateway benchmark: ${LISTING}, uncached, unique Authorization per request`,
  gateways: ['ours', 'ours-own', ...GATEWAY_KINDS.filter((k) => k !== 'ours')],
  authorization: 'unique',
};

export const COALESCING: Scenario = {
  name: 'coalescing',
  title: `Gateway benchmark: ${LISTING}, anonymous identical requests (coalescing, deduplication), one core each`,
  gateways: ['ours', 'ours-nocoalesce', 'hive-rust', 'hive-rust-nodedupe'],
  authorization: 'anonymous',
};

export const WORKERS: Scenario = {
  name: 'workers',
  title: `Gateway benchmark: ${LISTING}, uncached, unique Authorization per request; ours on one core vs one worker per core (both cores, shared with the stubs and the load generator)`,
  gateways: ['ours', 'ours-workers'],
  authorization: 'unique',
};

/**
 * The gateway as shipped (its default, own executor; coalescing on, which a unique Authorization
 * never merges) uncached, against the same gateway with its entity cache on: the honest baseline
 * of the issue's 10×. Until issue 16's second round the first row was `ours` (@apollo/gateway's
 * executor, slower), which flattered the ratio.
 */
export const CACHED: Scenario = {
  name: 'cached',
  title: 'Gateway benchmark: anonymous-safe browsing (20 products with price, rating and stock: public data), unique Authorization per request; ours as shipped (own executor) uncached vs with its entity cache on',
  gateways: ['ours-own', 'ours-cached'],
  authorization: 'unique',
  workload: 'browsing',
};

export const SCENARIOS: Readonly<Record<string, Scenario>> = {
  uncached: UNCACHED,
  coalescing: COALESCING,
  workers: WORKERS,
  cached: CACHED,
};

/** `npm run bench:gateway` without --scenario. */
export const DEFAULT_SCENARIOS: readonly string[] = ['uncached', 'coalescing', 'workers', 'cached'];
