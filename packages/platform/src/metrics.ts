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
