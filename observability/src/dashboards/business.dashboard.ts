import type { DashboardSpec } from './kit';
import { row, stat, timeseries } from './kit';

/** Is the shop making money? Orders, revenue, payments, sign-ins, searches, stock, and whether confirmations keep up with placements. */
export const businessDashboard: DashboardSpec = {
  uid: 'shop-business',
  title: 'Shop / Business',
  description: 'Orders per minute, revenue, payment success, login failures, searches, stock health and the saga backlog; trends over weeks from recording rules.',
  tags: ['business'],
  rows: [
    row('Orders and revenue', [
      timeseries('Orders per minute', { expr: 'sum(rate(orders_placed_total[$__rate_interval])) * 60', legend: 'placed' }, {
        description: 'New orders placed per minute (idempotent replays not counted).',
        unit: 'short',
        width: 8,
      }),
      timeseries('Order outcomes per minute', { expr: 'sum by (status) (rate(orders_status_transitions_total[$__rate_interval])) * 60', legend: '{{status}}' }, {
        description: 'Orders reaching each status per minute (CONFIRMED, REJECTED, CANCELLED, SHIPPED, DELIVERED).',
        unit: 'short',
        stacked: true,
        width: 8,
      }),
      timeseries('Revenue per hour', { expr: 'sum by (currency) (rate(orders_revenue_total[$__rate_interval])) * 3600', legend: '{{currency}}' }, {
        description: 'Value of confirmed orders per hour, by currency.',
        unit: 'short',
        width: 8,
      }),
      timeseries('Time to a final status p95', { expr: 'histogram_quantile(0.95, sum by (outcome, le) (rate(orders_saga_duration_seconds_bucket[$__rate_interval])))', legend: '{{outcome}}' }, {
        description: 'From placing an order to CONFIRMED, REJECTED or CANCELLED (the checkout saga across inventory and payment).',
        unit: 's',
        width: 12,
      }),
      timeseries('Stock reservations', { expr: 'sum by (outcome) (rate(inventory_reservations_total[$__rate_interval])) * 60', legend: '{{outcome}}' }, {
        description: 'Reservation answers of inventory per minute (reserved, rejected: out of stock, replayed).',
        unit: 'short',
        width: 12,
      }),
    ]),
    // Issue 18 (carts and checkout): conversion, average order value, coupon redemptions, carts.
    row('Carts and checkout', [
      timeseries('Checkout conversion', { expr: 'sum(rate(orders_checkouts_completed_total[$__rate_interval])) / sum(rate(orders_checkouts_started_total[$__rate_interval]))', legend: 'completed / started' }, {
        description: 'Share of checkout calls with valid input that created an order (refusals: cart problems, used-up coupons, missing address or method).',
        unit: 'percentunit',
        min: 0,
        max: 1,
        width: 6,
      }),
      timeseries('Average order value', { expr: 'sum by (currency) (rate(orders_checkout_value_total[$__rate_interval])) / ignoring(currency) group_left sum(rate(orders_checkouts_completed_total[$__rate_interval]))', legend: '{{currency}}' }, {
        description: 'Total of orders created by checkout divided by their number (major units).',
        unit: 'short',
        width: 6,
      }),
      timeseries('Carts created per minute', { expr: 'sum by (kind) (rate(orders_carts_created_total[$__rate_interval])) * 60', legend: '{{kind}}' }, {
        description: 'Guest carts (createCart) and the implicit carts of signed-in users; expired carts are orders_carts_expired_total.',
        unit: 'short',
        width: 6,
      }),
      timeseries('Coupon redemptions per minute', { expr: 'sum(rate(orders_coupon_redemptions_total[$__rate_interval])) * 60', legend: 'redeemed' }, {
        description: 'Coupon redemptions taken at checkout (a rejected or cancelled order gives its redemption back).',
        unit: 'short',
        width: 6,
      }),
    ]),
    // Issue 19: fraud decisions before the charge and returns.
    row('Fraud checks and returns', [
      timeseries('Orders held or rejected by fraud rules per hour', { expr: 'sum by (outcome, reason) (increase(orders_fraud_decisions_total[1h]))', legend: '{{outcome}} {{reason}}' }, {
        description: 'Fraud decisions before the charge: held for review or rejected, by rule (DECLINED_ATTEMPTS, ORDER_VELOCITY, NEW_CUSTOMER_AMOUNT), and admins releasing or rejecting held orders.',
        unit: 'short',
        width: 12,
      }),
      timeseries('Returns per hour by step', { expr: 'sum by (status) (increase(orders_returns_total[1h]))', legend: '{{status}}' }, {
        description: 'Return requests, approvals, rejections, receipts and refunds; refunds the provider could not make at once: orders_return_refund_attempts_total{outcome="error"}.',
        unit: 'short',
        width: 12,
      }),
    ]),
    row('Payments and customers', [
      timeseries(
        'Payment success rate',
        {
          expr: 'sum(rate(orders_payment_operations_total{operation="charge", outcome="approved"}[$__rate_interval])) / sum(rate(orders_payment_operations_total{operation="charge"}[$__rate_interval]))',
          legend: 'approved',
        },
        { description: 'Share of charges the provider approved. Alert: ShopPaymentFailureSpike.', unit: 'percentunit', min: 0, max: 1, width: 8 },
      ),
      timeseries('Charges by outcome', { expr: 'sum by (outcome) (rate(orders_payment_operations_total{operation="charge"}[$__rate_interval])) * 60', legend: '{{outcome}}' }, {
        description: 'Charges per minute by outcome (approved, declined, invalid_token, error, circuit_open).',
        unit: 'short',
        stacked: true,
        width: 8,
      }),
      timeseries(
        '3-D Secure and payment webhooks',
        [
          { expr: 'sum by (outcome) (rate(orders_payment_operations_total{operation="authentication"}[$__rate_interval])) * 60', legend: 'authentication {{outcome}}' },
          { expr: 'sum by (outcome) (rate(orders_payment_webhooks_total[$__rate_interval])) * 60', legend: 'webhook {{outcome}}' },
        ],
        {
          description: 'Per minute (issue 19): payments that asked for 3-D Secure (requires_action) and their outcome by webhook (approved, declined); webhook deliveries by outcome (accepted, duplicate, ignored; unsigned and bad_signature are refusals: a rise is a misconfigured secret or someone probing the endpoint).',
          unit: 'short',
          width: 8,
        },
      ),
      timeseries('Login failures per minute', { expr: 'sum by (reason) (rate(users_logins_total{outcome="failure"}[$__rate_interval])) * 60', legend: '{{reason}}' }, {
        description: 'Failed sign-ins per minute by reason (unknown_account, wrong_password, rate_limited, invalid_input); a sudden rise: credential stuffing.',
        unit: 'short',
        width: 8,
      }),
      timeseries('Searches per minute', { expr: 'sum by (kind) (rate(catalog_search_duration_seconds_count[$__rate_interval])) * 60', legend: '{{kind}}' }, {
        description: 'Product list queries per minute: search (with search text) and browse (filters only).',
        unit: 'short',
        width: 6,
      }),
      timeseries(
        'Searches without results',
        { expr: 'sum(rate(catalog_search_results_bucket{kind="search", le="0"}[$__rate_interval])) / sum(rate(catalog_search_results_count{kind="search"}[$__rate_interval]))', legend: 'no results' },
        { description: 'Share of text searches whose page came back empty (missing products, or spelling the correction did not catch).', unit: 'percentunit', min: 0, max: 1, width: 6 },
      ),
      timeseries('Sign-ins per minute', { expr: 'sum by (outcome) (rate(users_logins_total[$__rate_interval])) * 60', legend: '{{outcome}}' }, {
        description: 'Sign-in attempts per minute by outcome.',
        unit: 'short',
        stacked: true,
        width: 12,
      }),
    ]),
    row('Stock', [
      stat('Low-stock products', { expr: 'max(inventory_low_stock_products)' }, {
        description: 'Products whose available stock is at or below their threshold. Alert: ShopProductsLowStock.',
        thresholds: [[1, 'orange']],
      }),
      stat('Inventory mismatches', { expr: 'max(inventory_reconciliation_mismatches)' }, {
        description: 'Products whose stock did not add up at the last reconciliation (should be 0). Alert: ShopInventoryMismatch.',
        thresholds: [[1, 'red']],
      }),
      timeseries('Stock adjustments', { expr: 'sum by (direction) (rate(inventory_adjustments_total[$__rate_interval])) * 60', legend: '{{direction}}' }, {
        description: 'Admin stock adjustments per minute (in: restock, out: write-off).',
        unit: 'short',
        width: 12,
        height: 5,
      }),
    ]),
    row('Trends (recording rules)', [
      timeseries('Orders per minute, 4 weeks', { expr: 'shop:orders_placed:rate5m * 60', legend: 'placed' }, { description: 'Orders per minute', unit: 'short', timeFrom: '4w', width: 8 }),
      timeseries('Revenue per hour, 4 weeks', { expr: 'currency:orders_revenue:rate5m * 3600', legend: '{{currency}}' }, { description: 'Revenue per hour by currency', unit: 'short', timeFrom: '4w', width: 8 }),
      timeseries('Payment success rate, 4 weeks', { expr: 'shop:orders_payment_success:ratio_rate5m', legend: 'approved' }, {
        description: 'Payment success rate',
        unit: 'percentunit',
        timeFrom: '4w',
        width: 8,
      }),
      timeseries('Login failures per minute, 4 weeks', { expr: 'shop:users_login_failures:rate5m * 60', legend: 'failures' }, { description: 'Login failures per minute', unit: 'short', timeFrom: '4w', width: 12 }),
      timeseries('Low-stock products, 4 weeks', { expr: 'shop:inventory_low_stock_products:max', legend: 'low stock' }, { description: 'Low-stock products', unit: 'short', timeFrom: '4w', width: 12 }),
    ]),
    // Last, so the ids of the panels above stay what they were.
    row('Saga backlog', [
      stat('Orders pending', { expr: 'max(orders_saga_backlog)' }, {
        description: 'Orders placed whose saga (stock reservation, then payment) has not ended yet. A few while the shop is busy; a growing number: confirmations fall behind. Alert: OrdersConfirmationsFallingBehind.',
        thresholds: [[10, 'orange']],
        height: 8,
      }),
      stat('Oldest pending order', { expr: 'max(orders_saga_oldest_pending_age_seconds)' }, {
        description: 'How long ago the oldest PENDING order was placed (0 when none is). A healthy saga ends within a second or two; at 5 minutes the saga times out and the order is rejected. Alert: OrdersConfirmationsFallingBehind (over a minute, 10 or more pending).',
        unit: 's',
        thresholds: [[60, 'orange'], [240, 'red']],
        height: 8,
      }),
      timeseries(
        'Placed vs confirmed per second',
        [
          { expr: 'sum(rate(orders_placed_total[$__rate_interval]))', legend: 'placed' },
          { expr: 'sum(rate(orders_status_transitions_total{status="CONFIRMED"}[$__rate_interval]))', legend: 'confirmed' },
        ],
        { description: 'Orders placed and orders confirmed per second. Confirmed stays under placed by the declined and out-of-stock share; a widening gap with a growing backlog: the shop cannot confirm what it takes.', unit: 'ops', width: 12 },
      ),
      timeseries('Orders pending over time', { expr: 'max(orders_saga_backlog)', legend: 'pending' }, {
        description: 'The saga backlog over time: it should drain at the full confirmation rate once the load drops.',
        unit: 'short',
        thresholds: [[10, 'orange']],
      }),
      timeseries('Oldest pending order over time', { expr: 'max(orders_saga_oldest_pending_age_seconds)', legend: 'oldest pending' }, {
        description: 'Age of the oldest PENDING order over time; the saga timeout (5 minutes by default) caps it.',
        unit: 's',
        thresholds: [[60, 'orange'], [240, 'red']],
      }),
      timeseries(
        'Placed vs confirmed per second, 4 weeks',
        [
          { expr: 'shop:orders_placed:rate5m', legend: 'placed' },
          { expr: 'status:orders_status_transitions:rate5m{status="CONFIRMED"}', legend: 'confirmed' },
        ],
        { description: 'Orders placed and confirmed per second', unit: 'ops', timeFrom: '4w', width: 8 },
      ),
      timeseries('Orders pending, 4 weeks', { expr: 'shop:orders_saga_backlog:max', legend: 'pending' }, { description: 'Orders pending', unit: 'short', timeFrom: '4w', width: 8 }),
      timeseries('Oldest pending order, 4 weeks', { expr: 'shop:orders_saga_oldest_pending_age_seconds:max', legend: 'oldest pending' }, { description: 'Age of the oldest pending order', unit: 's', timeFrom: '4w', width: 8 }),
    ]),
    // Last, so the ids of the panels above stay as they were.
    row('Search', [
      timeseries(
        'Search latency',
        [0.5, 0.95, 0.99].map((q) => ({ expr: `histogram_quantile(${q}, sum by (le) (rate(catalog_search_duration_seconds_bucket{kind="search"}[$__rate_interval])))`, legend: `p${Math.round(q * 100)}` })),
        { description: 'Time the catalog takes to answer a text search (query and ranking), p50, p95 and p99.', unit: 's', width: 12 },
      ),
      timeseries(
        'Zero-result rate',
        { expr: 'sum(rate(catalog_search_results_bucket{kind="search", le="0"}[$__rate_interval])) / sum(rate(catalog_search_results_count{kind="search"}[$__rate_interval]))', legend: 'no results' },
        { description: 'Share of text searches that found nothing, over time (missing products or words the catalogue does not use: worth reading the search terms).', unit: 'percentunit', min: 0, max: 1, width: 12 },
      ),
    ]),
  ],
};
