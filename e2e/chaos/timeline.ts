/**
 * What the clients saw, with timestamps: every placeOrder answer of the checkout load and every
 * read of the catalogue reader. The chaos report cuts it into the windows of the faults.
 */
import type { LoadEvent } from '../bench/checkout/load';
import { sleep } from './supervisor';

export interface Sample {
  readonly at: number;
  readonly ok: boolean;
  /** The failure's code (`SERVICE_UNAVAILABLE`, `HTTP_502`, `CLIENT_TIMEOUT`…), when it failed. */
  readonly code?: string;
}

export interface WindowStats {
  readonly ok: number;
  readonly failed: number;
  /** Failures by code. */
  readonly codes: Record<string, number>;
  /** The first success at or after `from` (epoch ms), if any. */
  readonly firstOkAt: number | null;
}

export class Timeline {
  readonly orders: Sample[] = [];
  readonly reads: Sample[] = [];

  /** For `runLoad`'s `onResult`. */
  readonly onOrder = (event: LoadEvent): void => {
    this.orders.push(event.ok ? { at: event.ack.at, ok: true } : { at: event.at, ok: false, code: event.code });
  };

  static stats(samples: readonly Sample[], from: number, to: number): WindowStats {
    const codes: Record<string, number> = {};
    let ok = 0;
    let failed = 0;
    let firstOkAt: number | null = null;
    for (const s of samples) {
      if (s.at < from || s.at >= to) continue;
      if (s.ok) {
        ok++;
        if (firstOkAt === null || s.at < firstOkAt) firstOkAt = s.at;
      } else {
        failed++;
        codes[s.code ?? 'UNKNOWN'] = (codes[s.code ?? 'UNKNOWN'] ?? 0) + 1;
      }
    }
    return { ok, failed, codes, firstOkAt };
  }

  /** Resolves at the first order acknowledged at or after `from`, or null after `timeoutMs`. */
  async firstOrderAfter(from: number, timeoutMs: number): Promise<number | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = Timeline.stats(this.orders, from, Number.MAX_SAFE_INTEGER).firstOkAt;
      if (found !== null || Date.now() > deadline) return found;
      await sleep(100);
    }
  }
}

const CATALOGUE_QUERY = '{ products(first: 10) { totalCount edges { node { id name price { amount currencyCode } } } } }';

/**
 * Reads the catalogue through the gateway, anonymously, until `signal` aborts: a shopper browsing
 * while others check out. A read is ok when it answers 200 with products and no error.
 */
export async function readCatalogue(gatewayUrl: string, timeline: Timeline, signal: AbortSignal, pauseMs = 200): Promise<void> {
  while (!signal.aborted) {
    let sample: Sample;
    try {
      const res = await fetch(gatewayUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: CATALOGUE_QUERY }), signal: AbortSignal.timeout(10_000) });
      const body = (await res.json().catch(() => ({}))) as { data?: { products?: { edges?: unknown[] } }; errors?: Array<{ extensions?: { code?: string } }> };
      const ok = res.status === 200 && !body.errors?.length && Array.isArray(body.data?.products?.edges);
      sample = ok ? { at: Date.now(), ok } : { at: Date.now(), ok, code: body.errors?.[0]?.extensions?.code ?? `HTTP_${res.status}` };
    } catch (error) {
      sample = { at: Date.now(), ok: false, code: error instanceof Error && error.name === 'TimeoutError' ? 'CLIENT_TIMEOUT' : 'CONNECTION_FAILED' };
    }
    timeline.reads.push(sample);
    await sleep(pauseMs);
  }
}
