import client from 'prom-client';

/**
 * The process-wide registry (one per process, as Prometheus expects). Services that share a
 * process in the embedded default share it; their series are told apart by a `service` label.
 */
export const registry = new client.Registry();
let defaultsCollected = false;

/** Starts the default process metrics (CPU, memory, event-loop lag, GC) once per process. */
export function collectProcessMetrics(): void {
  if (defaultsCollected) return;
  defaultsCollected = true;
  client.collectDefaultMetrics({ register: registry });
}

type Config<T extends string> = { name: string; help: string; labelNames?: readonly T[] };

function getOrCreate<M>(name: string, create: () => M): M {
  return (registry.getSingleMetric(name) as M | undefined) ?? create();
}

/** A counter, created once per process (idempotent by name). */
export function counter<T extends string>(cfg: Config<T>): client.Counter<T> {
  return getOrCreate(cfg.name, () => new client.Counter<T>({ ...cfg, labelNames: cfg.labelNames ?? [], registers: [registry] }));
}

export function gauge<T extends string>(cfg: Config<T> & { collect?: (this: client.Gauge<T>) => void | Promise<void> }): client.Gauge<T> {
  return getOrCreate(cfg.name, () => new client.Gauge<T>({ ...cfg, labelNames: cfg.labelNames ?? [], registers: [registry] }));
}

/** Latency buckets in seconds, from 1 ms to 10 s. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5, 10];

export function histogram<T extends string>(cfg: Config<T> & { buckets?: number[] }): client.Histogram<T> {
  return getOrCreate(cfg.name, () => new client.Histogram<T>({ buckets: LATENCY_BUCKETS, ...cfg, labelNames: cfg.labelNames ?? [], registers: [registry] }));
}

/**
 * Folds unbounded label values (operation names) into a bounded set: the first `cap` distinct
 * values keep their name, later ones become `other`.
 */
export function boundedLabel(cap = 100): (value: string | undefined | null) => string {
  const seen = new Set<string>();
  return (value) => {
    const v = value || 'anonymous';
    if (seen.has(v)) return v;
    if (seen.size >= cap) return 'other';
    seen.add(v);
    return v;
  };
}

/**
 * Services whose `/metrics` endpoint this process serves (one in a standalone process, all five in
 * the embedded default). Used by `metricsFor` to tell each endpoint's own series apart.
 */
const servedServices = new Set<string>();

/** Records that this process serves `/metrics` for `service` (called by `mountOperationalRoutes`). */
export function registerServedService(service: string): void {
  servedServices.add(service);
}

/**
 * The exposition text of one service's `/metrics` endpoint.
 *
 * One process may host several services (the embedded default) sharing one registry; if every
 * port served the whole registry, Prometheus would store each series once per port and every
 * `sum` would count it several times. So a series is served only by the endpoint of the service
 * that owns it: the value of its `service` label when that is a service of this process, or else
 * the served service its name starts with (`gateway_…`, `orders_…`). Series owned by nobody
 * (process, Node.js and GC metrics) describe the process and are served by every endpoint, one
 * copy per scrape job. In a standalone process
 * (Kubernetes) every series belongs to the one service, so nothing is dropped.
 */
export async function metricsFor(service: string): Promise<string> {
  return filterExposition(await registry.metrics(), service, servedServices);
}

/** Keeps the samples of `text` that `service` owns or that nobody owns (see `metricsFor`). */
export function filterExposition(text: string, service: string, served: ReadonlySet<string>): string {
  const prefixes = [...served].map((s) => `${s}_`);
  const kept: string[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) {
      kept.push(line);
      continue;
    }
    const label = /[{,]service="([^"]*)"/.exec(line)?.[1];
    const owner = label !== undefined && served.has(label) ? label : prefixes.find((p) => line.startsWith(p))?.slice(0, -1);
    if (owner === undefined || owner === service) kept.push(line);
  }
  return kept.join('\n');
}

/**
 * Memoises an async measurement for `ttlMs` (default 1 s), so that gauges that query a database
 * or a broker on collection do it once per scrape round even when several endpoints of one
 * process are scraped at the same moment.
 */
export function memoize<T>(fn: () => Promise<T>, ttlMs = 1_000): () => Promise<T> {
  let cached: { at: number; value: Promise<T> } | undefined;
  return () => {
    const now = Date.now();
    if (!cached || now - cached.at > ttlMs) {
      const value = fn();
      cached = { at: now, value };
      // A failed measurement is not kept: the next scrape tries again.
      value.catch(() => (cached = undefined));
    }
    return cached.value;
  };
}

/** One measurement of a sourced gauge: label values and the value. */
export interface GaugeSample<T extends string> {
  readonly labels: Readonly<Record<T, string>>;
  readonly value: number;
}

const gaugeSources = new Map<string, Set<() => Promise<ReadonlyArray<GaugeSample<string>>>>>();

/**
 * A gauge measured at scrape time from any number of sources (one per outbox relay, event bus or
 * connection pool in this process). Each source is added with `addSource`, which answers its
 * remover; the gauge is reset on every scrape, so a removed source leaves no stale series, and
 * samples of several sources with the same labels add up. A source that fails is skipped for that
 * scrape (its series disappear, which `absent()`-style alerts can notice).
 */
export function sourcedGauge<T extends string>(cfg: Config<T>): { addSource(source: () => Promise<ReadonlyArray<GaugeSample<T>>>): () => void } {
  let sources = gaugeSources.get(cfg.name);
  if (!sources) {
    const set = new Set<() => Promise<ReadonlyArray<GaugeSample<string>>>>();
    sources = set;
    gaugeSources.set(cfg.name, set);
    gauge<T>({
      ...cfg,
      async collect() {
        const results = await Promise.all([...set].map((s) => s().catch(() => [] as ReadonlyArray<GaugeSample<string>>)));
        this.reset();
        for (const samples of results) for (const s of samples) this.inc(s.labels as Partial<Record<T, string>>, s.value);
      },
    });
  }
  const set = sources;
  return {
    addSource: (source) => {
      const s = source as () => Promise<ReadonlyArray<GaugeSample<string>>>;
      set.add(s);
      return () => void set.delete(s);
    },
  };
}
