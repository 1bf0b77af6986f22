/**
 * The load generator of the checkout benchmark: places orders through the gateway, either in a
 * closed loop (N customers, each placing its next order when the last one was answered) or in an
 * open loop (arrivals at a fixed mean rate, Poisson, bounded in-flight). Pure client code with a
 * serialisable spec and result, so it runs in the benchmark's worker thread (the CLI: the client
 * does not share the shop's event loop) or inline (the CI smoke test under jest).
 */

export type LoadKind = 'closed' | 'open';

export interface LoadSpec {
  readonly kind: LoadKind;
  /** http://127.0.0.1:<port>/graphql of the gateway. */
  readonly gatewayUrl: string;
  /** One access token per customer. */
  readonly tokens: readonly string[];
  /** Every order is one line of one of these products (chosen uniformly at random), quantity 1. */
  readonly productIds: readonly string[];
  readonly durationMs: number;
  /** Closed loop: concurrent customers (at most tokens.length). */
  readonly customers: number;
  /** Open loop: mean arrivals per second. */
  readonly rate: number;
  /** Open loop: arrivals beyond this many unanswered requests are dropped (and counted). */
  readonly maxInFlight: number;
  /** Hard cap on requests of one phase (a bound whatever the speed). */
  readonly maxOrders: number;
  /** Idempotency keys are `<keyPrefix>-<customer>-<n>`: distinct per order, and how the orders of a phase are found in the orders database. */
  readonly keyPrefix: string;
  readonly paymentToken: string;
  readonly requestTimeoutMs: number;
}

/** One acknowledged placeOrder (an order id came back). */
export interface Ack {
  readonly orderId: string;
  readonly key: string;
  readonly status: string;
  /** Epoch ms when the answer arrived. */
  readonly at: number;
  readonly latencyMs: number;
}

export interface LoadResult {
  /** Epoch ms of the first request and of the end of the phase window. */
  readonly startedAt: number;
  readonly endsAt: number;
  /** Epoch ms when the last request of the phase was answered (≥ endsAt when requests were in flight at the end). */
  readonly settledAt: number;
  readonly acks: Ack[];
  /** Requests sent (acknowledged or not). */
  readonly sent: number;
  /** Failed requests by error code (GraphQL `extensions.code`, `HTTP_<status>`, or the client error's name). */
  readonly errors: Record<string, number>;
  /** Failed requests whose keys are unknown to the client's result: the order may still exist (a timeout). */
  readonly uncertainKeys: string[];
  /** Open loop: arrivals dropped because maxInFlight requests were unanswered. */
  readonly dropped: number;
  /** Open loop: the largest delay of an arrival behind its schedule (the client itself falling behind). */
  readonly maxScheduleLagMs: number;
}

/** One answered (or failed) placeOrder, as it happens: what a caller watching the load live sees. */
export type LoadEvent = { readonly ok: true; readonly ack: Ack } | { readonly ok: false; readonly code: string; readonly key: string; readonly at: number };

/** Live control of a run, for callers in the same thread (not serialisable: the worker does not use it). */
export interface LoadControl {
  /** Ends the run early: no new request is sent once it is aborted (those in flight are awaited). */
  readonly signal?: AbortSignal;
  /** Told of each result the moment it arrives. */
  readonly onResult?: (event: LoadEvent) => void;
}

const PLACE_ORDER = 'mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { id status } }';
const ADDRESS = { line1: '1 Bench Street', city: 'Springfield', postalCode: '12345', country: 'US' };

/** Runs one phase of load (see the module comment); `control` stops it early and observes it live. Default: neither. */
export async function runLoad(spec: LoadSpec, control: LoadControl = {}): Promise<LoadResult> {
  if (spec.tokens.length === 0 || spec.productIds.length === 0) throw new Error('runLoad needs customers and products');
  const acks: Ack[] = [];
  const errors: Record<string, number> = {};
  const uncertainKeys: string[] = [];
  const counters = new Array<number>(spec.tokens.length).fill(0);
  let sent = 0;
  let settledAt = Date.now();

  const placeOne = async (customer: number): Promise<void> => {
    const key = `${spec.keyPrefix}-${customer}-${counters[customer]!++}`;
    const productId = spec.productIds[Math.floor(Math.random() * spec.productIds.length)]!;
    const input = { items: [{ productId, quantity: 1 }], shippingAddress: ADDRESS, payment: { token: spec.paymentToken }, idempotencyKey: key };
    sent++;
    const t0 = performance.now();
    let code: string | undefined;
    let uncertain = false;
    try {
      const res = await fetch(spec.gatewayUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${spec.tokens[customer]}` },
        body: JSON.stringify({ query: PLACE_ORDER, variables: { input } }),
        signal: AbortSignal.timeout(spec.requestTimeoutMs),
      });
      const body = (await res.json().catch(() => ({}))) as { data?: { placeOrder?: { id: string; status: string } | null }; errors?: Array<{ extensions?: { code?: string } }> };
      const order = body.data?.placeOrder;
      if (res.ok && order?.id) {
        const at = Date.now();
        const ack = { orderId: order.id, key, status: order.status, at, latencyMs: performance.now() - t0 };
        acks.push(ack);
        control.onResult?.({ ok: true, ack });
      } else {
        code = body.errors?.[0]?.extensions?.code ?? `HTTP_${res.status}`;
        uncertain = res.status >= 500;
      }
    } catch (error) {
      code = clientErrorCode(error);
      uncertain = true;
    }
    if (code !== undefined) {
      errors[code] = (errors[code] ?? 0) + 1;
      if (uncertain) uncertainKeys.push(key);
      control.onResult?.({ ok: false, code, key, at: Date.now() });
    }
    settledAt = Math.max(settledAt, Date.now());
  };

  const startedAt = Date.now();
  const endsAt = startedAt + spec.durationMs;
  const open = (): boolean => Date.now() < endsAt && control.signal?.aborted !== true;
  let dropped = 0;
  let maxScheduleLagMs = 0;
  if (spec.kind === 'closed') {
    const customers = Math.min(spec.customers, spec.tokens.length);
    await Promise.all(
      Array.from({ length: customers }, async (_, customer) => {
        while (open() && sent < spec.maxOrders) {
          const before = Object.values(errors).reduce((a, b) => a + b, 0);
          await placeOne(customer);
          // After a failure, a short pause: a refused connection must not spin the loop.
          if (Object.values(errors).reduce((a, b) => a + b, 0) > before) await sleep(50);
        }
      }),
    );
  } else {
    const inFlight = new Set<Promise<void>>();
    let next = startedAt;
    let customer = 0;
    while (sent + dropped < spec.maxOrders) {
      next += (-Math.log(1 - Math.random()) / spec.rate) * 1000; // exponential inter-arrival times: Poisson arrivals
      if (next >= endsAt) break;
      const wait = next - Date.now();
      if (wait > 0) await sleep(wait);
      if (!open()) break;
      else maxScheduleLagMs = Math.max(maxScheduleLagMs, -wait);
      if (inFlight.size >= spec.maxInFlight) {
        dropped++;
        continue;
      }
      const p: Promise<void> = placeOne(customer).finally(() => inFlight.delete(p));
      inFlight.add(p);
      customer = (customer + 1) % spec.tokens.length;
    }
    await Promise.all(inFlight);
  }
  return { startedAt, endsAt: Math.min(endsAt, Date.now()), settledAt: Math.max(settledAt, endsAt), acks, sent, errors, uncertainKeys, dropped, maxScheduleLagMs };
}

/** A short name for a failed request: the timeout, or fetch's cause (`ECONNRESET`, `UND_ERR_SOCKET`…). */
function clientErrorCode(error: unknown): string {
  if (!(error instanceof Error)) return 'UNKNOWN';
  if (error.name === 'TimeoutError' || error.name === 'AbortError') return 'CLIENT_TIMEOUT';
  const cause = (error as { cause?: { code?: unknown; name?: unknown } }).cause;
  const detail = typeof cause?.code === 'string' ? cause.code : typeof cause?.name === 'string' ? cause.name : error.message;
  return `${error.name}(${detail})`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
