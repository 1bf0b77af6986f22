/**
 * The orders business metrics. Names are orders-specific (one process registry is shared by every
 * service in the embedded default); every label has a small, closed set of values.
 */
import type { BackgroundJob } from '@shop/platform';
import { counter, gauge, histogram, memoize, sourcedGauge } from '@shop/platform';

/** Saga durations run from milliseconds (happy path) to the timeout (minutes). */
const SAGA_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600];

export function ordersMetrics() {
  return {
    placed: counter({ name: 'orders_placed_total', help: 'Orders placed (new orders only; idempotent replays are not counted).' }),
    idempotentReplays: counter({ name: 'orders_idempotent_replays_total', help: 'placeOrder calls answered with an existing order (same idempotency key and input).' }),
    transitions: counter({
      name: 'orders_status_transitions_total',
      help: 'Order status transitions by target status and reason (REJECTED: OUT_OF_STOCK, PAYMENT_DECLINED, INVENTORY_TIMEOUT, PAYMENT_TIMEOUT; CANCELLED: CUSTOMER, ADMIN).',
      labelNames: ['status', 'reason'],
    }),
    sagaDuration: histogram({
      name: 'orders_saga_duration_seconds',
      help: 'Time from placing an order to the end of its saga (CONFIRMED, REJECTED or CANCELLED while pending).',
      labelNames: ['outcome'],
      buckets: SAGA_BUCKETS,
    }),
    payments: counter({
      name: 'orders_payment_operations_total',
      help: 'Payment operations by operation (charge, refund, lookup, authentication: 3-D Secure asked for, then its webhook outcome) and outcome (approved, declined, invalid_token, requires_action, refunded, not_found, error, circuit_open).',
      labelNames: ['operation', 'outcome'],
    }),
    webhooks: counter({
      name: 'orders_payment_webhooks_total',
      help: 'Payment provider webhook deliveries by outcome (accepted, duplicate, ignored, unsigned, bad_signature, error).',
      labelNames: ['outcome'],
    }),
    paymentAttempts: histogram({
      name: 'orders_payment_provider_call_duration_seconds',
      help: 'Duration of single calls to the payment provider, by operation and outcome (ok, error, timeout).',
      labelNames: ['operation', 'outcome'],
    }),
    revenue: counter({
      name: 'orders_revenue_total',
      help: 'Gross revenue of confirmed orders by currency, in the currency major unit (a float for dashboards only; money in the database stays exact).',
      labelNames: ['currency'],
    }),
    circuitOpen: gauge({ name: 'orders_payment_circuit_open', help: '1 while the payment provider circuit breaker is open.' }),
    cancellations: counter({
      name: 'orders_cancellations_total',
      help: 'Cancelled orders by who cancelled (customer, admin) and the status they were in (PENDING, CONFIRMED).',
      labelNames: ['actor', 'from'],
    }),
    // Issue 18: carts and checkout (conversion = completed / started; average order value = value / completed).
    cartsCreated: counter({ name: 'orders_carts_created_total', help: 'Carts created, by kind (guest: createCart; user: the implicit cart of a signed-in user).', labelNames: ['kind'] }),
    cartsExpired: counter({ name: 'orders_carts_expired_total', help: 'Carts removed by the expiry sweep after CART_TTL_DAYS without activity.' }),
    checkoutsStarted: counter({ name: 'orders_checkouts_started_total', help: 'checkout calls with valid input, by guest (true, false).', labelNames: ['guest'] }),
    checkoutsCompleted: counter({ name: 'orders_checkouts_completed_total', help: 'Orders created by checkout (replays not counted), by guest (true, false).', labelNames: ['guest'] }),
    checkoutValue: counter({
      name: 'orders_checkout_value_total',
      help: 'Sum of the totals of orders created by checkout, by currency, in the major unit (a float for dashboards only).',
      labelNames: ['currency'],
    }),
    couponRedemptions: counter({ name: 'orders_coupon_redemptions_total', help: 'Coupon redemptions taken at checkout (given back ones are not subtracted).' }),
  };
}
export type OrdersMetrics = ReturnType<typeof ordersMetrics>;

/** One measurement of the saga backlog: the orders database as a whole (every replica sees the same). */
export interface SagaBacklog {
  /** Orders PENDING now (placed, saga not ended). */
  readonly pending: number;
  /** When the oldest PENDING order was placed; null when none is. */
  readonly oldestPlacedAt: Date | null;
}

/**
 * The saga backlog gauges, measured at scrape time: `orders_saga_backlog` (orders PENDING now)
 * and `orders_saga_oldest_pending_age_seconds` (0 when none is). Both come from one `measure`
 * call, memoised for a second (every endpoint of a process is scraped at the same moment). A
 * failed measurement drops both series for that scrape rather than reading 0. Every replica
 * reports the same database-wide numbers: aggregate with `max`, never `sum`. The job's `stop`
 * removes the source.
 */
export function sagaBacklogGauges(measure: () => Promise<SagaBacklog>, now: () => number = Date.now): BackgroundJob {
  const backlog = sourcedGauge({ name: 'orders_saga_backlog', help: 'Orders PENDING now: placed, saga not ended yet (measured at scrape time; every replica reports the same, aggregate with max).', labelNames: ['service'] });
  const oldestAge = sourcedGauge({
    name: 'orders_saga_oldest_pending_age_seconds',
    help: 'Age in seconds of the oldest PENDING order, 0 when none is (measured at scrape time; every replica reports the same, aggregate with max).',
    labelNames: ['service'],
  });
  const measured = memoize(measure);
  const labels = { service: 'orders' } as const;
  const removers = [
    backlog.addSource(async () => [{ labels, value: (await measured()).pending }]),
    oldestAge.addSource(async () => {
      const { oldestPlacedAt } = await measured();
      return [{ labels, value: oldestPlacedAt ? Math.max(0, (now() - oldestPlacedAt.getTime()) / 1000) : 0 }];
    }),
  ];
  return {
    stop: async () => {
      for (const remove of removers) remove();
    },
  };
}
