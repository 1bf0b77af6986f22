/**
 * A customer who changes their mind: each order acknowledged to them is cancelled a moment later
 * (at random within `maxDelayMs`), some while still PENDING (the payment is voided, or found and
 * refunded when a charge was attempted) and some once CONFIRMED (refunded). This puts the refund
 * paths of the saga under the faults, so that "no double charge or refund" is not vacuous.
 */
import type { LoadEvent } from '../bench/checkout/load';
import { sleep } from './supervisor';

const CANCEL_ORDER = 'mutation($id: ID!) { cancelOrder(id: $id, reason: "chaos: changed my mind") { id status } }';
/** A cancellation refused as retryable (a service down) is tried again this many times, half a second apart. */
const ATTEMPTS = 40;

export class Canceller {
  /** Cancellations answered with the order CANCELLED. */
  cancelled = 0;
  /** Refused for good (CONFLICT: the order was rejected or could no longer be cancelled). */
  refused = 0;
  /** Still failing after every attempt. */
  failed = 0;
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly gatewayUrl: string,
    private readonly token: string,
    private readonly maxDelayMs = 4_000,
  ) {}

  /** For `runLoad`'s `onResult`: schedules the cancellation of each acknowledged order. */
  readonly onResult = (event: LoadEvent): void => {
    if (!event.ok) return;
    const p: Promise<void> = this.cancel(event.ack.orderId).finally(() => this.pending.delete(p));
    this.pending.add(p);
  };

  /** Resolves once every scheduled cancellation has its answer. */
  async settle(): Promise<void> {
    while (this.pending.size) await Promise.all([...this.pending]);
  }

  private async cancel(orderId: string): Promise<void> {
    await sleep(Math.random() * this.maxDelayMs);
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      const code = await this.tryOnce(orderId);
      if (code === 'CANCELLED') return void this.cancelled++;
      if (code === 'CONFLICT') return void this.refused++;
      await sleep(500);
    }
    this.failed++;
  }

  /** `CANCELLED`, or the error code of the answer. */
  private async tryOnce(orderId: string): Promise<string> {
    try {
      const res = await fetch(this.gatewayUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.token}` },
        body: JSON.stringify({ query: CANCEL_ORDER, variables: { id: orderId } }),
        signal: AbortSignal.timeout(15_000),
      });
      const body = (await res.json().catch(() => ({}))) as { data?: { cancelOrder?: { status: string } | null }; errors?: Array<{ extensions?: { code?: string } }> };
      return body.data?.cancelOrder?.status ?? body.errors?.[0]?.extensions?.code ?? `HTTP_${res.status}`;
    } catch {
      return 'CONNECTION_FAILED';
    }
  }
}
