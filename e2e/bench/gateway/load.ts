/**
 * The benchmark's load generator: a closed loop of `connections` clients over undici (one
 * keep-alive connection each), every request the same body with a unique `Authorization` (or none: anonymous). A
 * warm-up, then a measured window of fixed length; requests still in flight at its end are
 * awaited and counted. Every response body is compared with the first one (string equality:
 * cheap), so a gateway that answers differently once in a thousand is caught.
 */
import { Pool } from 'undici';
import type { AuthorizationKind } from './workload';
import { authorizationMaker, BENCH_BODY } from './workload';

export interface LoadSpec {
  readonly url: string;
  readonly connections: number;
  readonly warmupS: number;
  readonly durationS: number;
  readonly authorization: AuthorizationKind;
  readonly secret: string;
  /** The request body. Default the listing's (BENCH_BODY); cached.ts has the browsing one. */
  readonly body?: string;
}

export interface LoadResult {
  readonly requests: number;
  readonly seconds: number;
  /** Failed requests by reason (`status 500`, `differs from the first body`, a network error's code). */
  readonly errors: Record<string, number>;
  /** Latencies of the measured requests (ms): p50, p95, p99. */
  readonly latencyMs: { readonly p50: number; readonly p95: number; readonly p99: number };
  /** The first answer's body (what the bodies of every gateway are compared on). */
  readonly body: string;
}

/** Runs the warm-up, calls `onMeasuring` when the measured window opens, and answers its figures. */
export async function runLoad(spec: LoadSpec, onMeasuring: () => void = () => undefined): Promise<LoadResult> {
  const url = new URL(spec.url);
  const pool = new Pool(url.origin, { connections: spec.connections, pipelining: 1, keepAliveTimeout: 60_000 });
  const authorization = authorizationMaker(spec.authorization, spec.secret);
  let first: string | undefined;
  const errors: Record<string, number> = {};
  const fail = (reason: string): void => void (errors[reason] = (errors[reason] ?? 0) + 1);
  let measuring = false;
  const latencies: number[] = [];
  const once = async (): Promise<void> => {
    const t0 = performance.now();
    const auth = authorization();
    try {
      const res = await pool.request({
        path: url.pathname,
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', ...(auth === undefined ? {} : { authorization: auth }) },
        body: spec.body ?? BENCH_BODY,
      });
      const text = await res.body.text();
      if (res.statusCode === 200) first ??= text;
      if (!measuring) return;
      if (res.statusCode !== 200) fail(`status ${res.statusCode}`);
      else if (text !== first) fail('differs from the first body');
      latencies.push(performance.now() - t0);
    } catch (error) {
      if (measuring) fail((error as { code?: string }).code ?? 'network error');
    }
  };
  const loop = async (until: number): Promise<void> => {
    await Promise.all(
      Array.from({ length: spec.connections }, async () => {
        while (performance.now() < until) await once();
      }),
    );
  };
  try {
    // The first body is taken from a request of its own, so that the warm-up's answers count too.
    await once().catch(() => undefined);
    await loop(performance.now() + spec.warmupS * 1000);
    measuring = true;
    onMeasuring();
    const start = performance.now();
    await loop(start + spec.durationS * 1000);
    const seconds = (performance.now() - start) / 1000;
    latencies.sort((a, b) => a - b);
    const q = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
    return { requests: latencies.length, seconds, errors, latencyMs: { p50: q(0.5), p95: q(0.95), p99: q(0.99) }, body: first ?? '' };
  } finally {
    await pool.close();
  }
}
