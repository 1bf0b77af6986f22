/**
 * The orders business metrics. Names are orders-specific (one process registry is shared by every
 * service in the embedded default); every label has a small, closed set of values.
 */
import { counter, gauge, histogram } from '@shop/platform';

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
      help: 'Payment operations by operation (charge, refund, lookup) and outcome (approved, declined, invalid_token, refunded, not_found, error, circuit_open).',
      labelNames: ['operation', 'outcome'],
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
  };
}
export type OrdersMetrics = ReturnType<typeof ordersMetrics>;
