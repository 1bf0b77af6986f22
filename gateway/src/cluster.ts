/**
 * The gateway on every core: a primary process forks N workers (node:cluster) that each run the
 * whole gateway and share its port (the primary accepts connections and hands them round-robin to
 * the workers; a connection, and so a WebSocket or SSE subscription, stays with its worker).
 *
 * What stays correct across workers, and how:
 * - Rate budgets: with REDIS_URL, every worker (and replica) counts in Redis as before. Without it,
 *   the counters live in the primary (rate-limiter-flexible's RateLimiterClusterMaster; each
 *   worker's limiter asks it over IPC), so N workers share one budget instead of N.
 * - Session revocations: each worker follows users' session events itself (its own consumer group,
 *   replayed before it reports ready), so a revoked session is refused by every worker.
 * - /metrics: a scrape reaches one worker, which asks the primary for the sum over all workers
 *   (prom-client's AggregatorRegistry): counters and histograms add up; gauges are summed too
 *   (prom-client's default), e.g. gateway_rate_limit_store_up reads N when every worker is up.
 * - Health: each worker answers for itself; the primary replaces a worker that dies.
 * - Shutdown: SIGTERM/SIGINT to the primary stops every worker gracefully (each drains, as a single
 *   gateway does) and waits for them, killing a worker that outlives `stopTimeoutMs`.
 */
import cluster from 'node:cluster';
import type { Worker } from 'node:cluster';
import type { RequestHandler } from 'express';
import { AggregatorRegistry } from 'prom-client';
import { RateLimiterClusterMaster } from 'rate-limiter-flexible';
import type { Logger } from '@shop/platform';
import { registry } from '@shop/platform';

/** Set in a worker's environment by the primary: the worker's number (1..N). */
const WORKER_ENV = 'SHOP_GATEWAY_WORKER';
const METRICS_REQUEST = 'shop-gateway:metrics?';
const METRICS_ANSWER = 'shop-gateway:metrics';
const READY = 'shop-gateway:ready';
const FAILED = 'shop-gateway:failed';
/** How long a worker's /metrics waits for the primary's aggregate. */
const METRICS_TIMEOUT_MS = 5_000;
/** A worker that dies is replaced, but not more often than this (a crash loop must not spin). */
const RESPAWN_DELAY_MS = 1_000;

/** Whether this process is a worker of the gateway cluster (forked by {@link startGatewayCluster}). */
export function isGatewayWorker(): boolean {
  return cluster.isWorker && process.env[WORKER_ENV] !== undefined;
}

export interface GatewayClusterOptions {
  /** Number of workers, ≥ 1. */
  readonly workers: number;
  readonly logger: Logger;
  /** How long each worker may take to stop (drain) before it is killed. */
  readonly stopTimeoutMs: number;
  /** Node flags of the workers. Default this process's. */
  readonly execArgv?: readonly string[];
  /** The workers' entry file. Default this process's (process.argv[1]). */
  readonly exec?: string;
  /** Arguments of the workers' entry. Default this process's. */
  readonly args?: readonly string[];
}

export interface RunningCluster {
  /** The URL the first worker reported (every worker listens on the same port). */
  readonly url: string;
  /** Process ids of the live workers. */
  pids(): number[];
  /** Stops every worker gracefully and waits for them. */
  stop(): Promise<void>;
}

/**
 * In the primary: forks the workers, serves their shared rate counters and the aggregate of their
 * metrics, replaces a worker that dies, and answers once every worker reported ready.
 */
export async function startGatewayCluster(options: GatewayClusterOptions): Promise<RunningCluster> {
  if (!cluster.isPrimary) throw new Error('startGatewayCluster runs in the primary process');
  const { logger } = options;
  cluster.setupPrimary({
    execArgv: [...(options.execArgv ?? process.execArgv)],
    ...(options.exec ? { exec: options.exec } : {}),
    ...(options.args ? { args: [...options.args] } : {}),
  });
  // The in-memory rate counters of every worker (without Redis), see rate-limits.ts.
  new RateLimiterClusterMaster();
  const aggregator = new AggregatorRegistry();
  let stopping = false;
  let firstUrl: string | undefined;
  const live = new Map<number, Worker>();
  let readyCount = 0;
  let onAllReady: (() => void) | undefined;
  let onFailed: ((error: Error) => void) | undefined;

  const fork = (n: number): void => {
    const worker = cluster.fork({ [WORKER_ENV]: String(n) });
    live.set(n, worker);
    let ready = false;
    // Why a worker could not start (it tells before exiting): the primary's one line names it.
    let failure: string | undefined;
    worker.on('message', (message: { type?: string; id?: number; url?: string; reason?: string }) => {
      if (message?.type === FAILED) {
        failure ??= message.reason;
      } else if (message?.type === READY) {
        ready = true;
        firstUrl ??= message.url;
        readyCount++;
        if (readyCount === options.workers) onAllReady?.();
      } else if (message?.type === METRICS_REQUEST) {
        aggregator.clusterMetrics().then(
          (text) => worker.isConnected() && worker.send({ type: METRICS_ANSWER, id: message.id, text }),
          (error: unknown) => worker.isConnected() && worker.send({ type: METRICS_ANSWER, id: message.id, error: error instanceof Error ? error.message : String(error) }),
        );
      }
    });
    worker.once('exit', (code, signal) => {
      live.delete(n);
      if (stopping) return;
      if (!ready && readyCount < options.workers) {
        onFailed?.(new Error(failure ?? `gateway worker ${n} exited (${signal ?? code}) before it was ready`));
        return;
      }
      logger.error({ worker: n, code, signal }, 'gateway worker died; starting another');
      setTimeout(() => !stopping && fork(n), RESPAWN_DELAY_MS).unref();
    });
  };

  const stop = async (): Promise<void> => {
    stopping = true;
    const workers = [...live.values()];
    await Promise.all(
      workers.map(
        (worker) =>
          new Promise<void>((resolve) => {
            if (worker.isDead()) return resolve();
            const timer = setTimeout(() => worker.process.kill('SIGKILL'), options.stopTimeoutMs);
            worker.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            worker.process.kill('SIGTERM');
          }),
      ),
    );
    logger.info({ workers: workers.length }, 'gateway workers stopped');
  };

  const allReady = new Promise<void>((resolve, reject) => {
    onAllReady = resolve;
    onFailed = reject;
  });
  for (let n = 1; n <= options.workers; n++) fork(n);
  try {
    await allReady;
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: firstUrl ?? '', pids: () => [...live.values()].map((w) => w.process.pid ?? -1), stop };
}

/**
 * In a worker that cannot start: tells the primary why (resolves once sent), so that a start-up
 * failure is one line, the primary's, however many workers met it.
 */
export function reportWorkerFailed(reason: string): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) return resolve();
    process.send({ type: FAILED, reason }, undefined, {}, () => resolve());
  });
}

/** In a worker: tells the primary this worker serves (its URL). */
export function reportWorkerReady(url: string): void {
  process.send?.({ type: READY, url });
}

/**
 * In a worker: the prom-client cluster protocol answers the primary's collection with this
 * process's registry (the platform's, not prom-client's global one).
 */
export function shareWorkerMetrics(): void {
  // Constructing one installs prom-client's worker-side listener.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([registry]);
}

/** In a worker: /metrics answered with the aggregate of every worker (asked of the primary). */
export function clusterMetricsHandler(): RequestHandler {
  let nextId = 0;
  const waiting = new Map<number, (answer: { text?: string; error?: string }) => void>();
  process.on('message', (message: { type?: string; id?: number; text?: string; error?: string }) => {
    if (message?.type !== METRICS_ANSWER || message.id === undefined) return;
    waiting.get(message.id)?.(message);
    waiting.delete(message.id);
  });
  return (_req, res) => {
    const id = nextId++;
    const timer = setTimeout(() => {
      waiting.delete(id);
      res.status(503).type('text/plain').send('metrics of the other gateway workers did not arrive in time\n');
    }, METRICS_TIMEOUT_MS);
    waiting.set(id, (answer) => {
      clearTimeout(timer);
      if (answer.text === undefined) res.status(503).type('text/plain').send(`metrics aggregation failed: ${answer.error ?? 'unknown'}\n`);
      else res.type(registry.contentType).send(answer.text);
    });
    process.send?.({ type: METRICS_REQUEST, id });
  };
}
