/**
 * The SQL of the sales report: the read model's writes (one event, one transaction) and the
 * report's two reads (points per interval, top products).
 */
type Raw = Record<string, unknown>;

/** Anything that runs SQL: the DataSource, or a transaction's EntityManager. */
export interface Queryable {
  query(sql: string, params?: unknown[]): Promise<any>;
}

export type ReportInterval = 'HOUR' | 'DAY' | 'WEEK';

export interface SalesPointRow {
  readonly start: Date;
  readonly orders: number;
  readonly revenue: string;
  readonly averageOrderValue: string;
}

export interface ProductSalesRow {
  readonly productId: string;
  readonly unitsSold: number;
  readonly revenue: string;
}

/** TypeORM answers UPDATE … RETURNING with [rows, affectedCount]. */
function returned(result: unknown): Raw[] {
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') return result[0] as Raw[];
  return result as Raw[];
}

/**
 * [0]: adds `$3` orders and `$4 × $5` revenue to an hour ($5 the sign: 1 adds, -1 removes);
 * [1], [2], [3]: add (`$4` = 1) or remove (-1) an order's lines in its hour's, day's and month's product totals.
 */
const APPLY_SALE = [
  `INSERT INTO sales_hour AS h (currency_code, hour, orders, revenue) VALUES ($1, $2, $3, $4::numeric * $5)
   ON CONFLICT (currency_code, hour) DO UPDATE SET orders = h.orders + excluded.orders, revenue = h.revenue + excluded.revenue`,
  `INSERT INTO sales_product_hour AS s (currency_code, hour, product_id, units, revenue)
   SELECT $1, $2, l.product_id, $4 * l.quantity, $4 * l.revenue FROM sales_order_line l WHERE l.order_id = $3
   ON CONFLICT (currency_code, hour, product_id) DO UPDATE SET units = s.units + excluded.units, revenue = s.revenue + excluded.revenue`,
  `INSERT INTO sales_product_day AS s (currency_code, day, product_id, units, revenue)
   SELECT $1, date_trunc('day', $2::timestamptz, 'UTC'), l.product_id, $4 * l.quantity, $4 * l.revenue FROM sales_order_line l WHERE l.order_id = $3
   ON CONFLICT (currency_code, day, product_id) DO UPDATE SET units = s.units + excluded.units, revenue = s.revenue + excluded.revenue`,
  `INSERT INTO sales_product_month AS s (currency_code, month, product_id, units, revenue)
   SELECT $1, date_trunc('month', $2::timestamptz, 'UTC'), l.product_id, $4 * l.quantity, $4 * l.revenue FROM sales_order_line l WHERE l.order_id = $3
   ON CONFLICT (currency_code, month, product_id) DO UPDATE SET units = s.units + excluded.units, revenue = s.revenue + excluded.revenue`,
] as const;

export class SalesReportRepository {
  constructor(private readonly db: Queryable) {}

  in(tx: Queryable): SalesReportRepository {
    return new SalesReportRepository(tx);
  }

  /** orders.order-placed.v1: the order and its lines (unit price × quantity), not yet a sale. Idempotent. */
  async recordPlaced(order: { orderId: string; currencyCode: string; total: string; placedAt: string; lines: ReadonlyArray<{ productId: string; quantity: number; unitPrice: string }> }): Promise<void> {
    const inserted = returned(
      await this.db.query(
        `INSERT INTO sales_order (order_id, currency_code, total, placed_at) VALUES ($1, $2, $3::numeric, $4::timestamptz)
         ON CONFLICT (order_id) DO NOTHING RETURNING order_id`,
        [order.orderId, order.currencyCode, order.total, order.placedAt],
      ),
    );
    if (inserted.length === 0) return;
    await this.db.query(
      `INSERT INTO sales_order_line (order_id, product_id, quantity, revenue)
       SELECT $1, l.product_id, sum(l.quantity), sum(l.quantity * l.unit_price)
       FROM jsonb_to_recordset($2::jsonb) AS l(product_id text, quantity int, unit_price numeric) GROUP BY l.product_id`,
      [order.orderId, JSON.stringify(order.lines.map((l) => ({ product_id: l.productId, quantity: l.quantity, unit_price: l.unitPrice })))],
    );
  }

  /** orders.order-confirmed.v1: the sale counts in the hour of its confirmation. False when unknown or already counted. */
  async recordConfirmed(orderId: string, confirmedAt: string): Promise<boolean> {
    const [row] = returned(
      await this.db.query(
        `UPDATE sales_order SET confirmed_hour = date_trunc('hour', $2::timestamptz, 'UTC')
         WHERE order_id = $1 AND confirmed_hour IS NULL AND NOT cancelled
         RETURNING currency_code, confirmed_hour, total::text AS total`,
        [orderId, confirmedAt],
      ),
    );
    if (!row) return false;
    await this.db.query(APPLY_SALE[0], [row['currency_code'], row['confirmed_hour'], 1, row['total'], 1]);
    await this.db.query(APPLY_SALE[1], [row['currency_code'], row['confirmed_hour'], orderId, 1]);
    await this.db.query(APPLY_SALE[2], [row['currency_code'], row['confirmed_hour'], orderId, 1]);
    await this.db.query(APPLY_SALE[3], [row['currency_code'], row['confirmed_hour'], orderId, 1]);
    return true;
  }

  /**
   * orders.order-cancelled.v1: a confirmed order stops being a sale, in the hour it was counted in
   * (what is left of its revenue after refunds, its lines). A cancelled order never counts again.
   */
  async recordCancelled(orderId: string): Promise<void> {
    const [row] = returned(
      await this.db.query(
        `UPDATE sales_order SET cancelled = true WHERE order_id = $1 AND NOT cancelled
         RETURNING currency_code, confirmed_hour, (total - refunded)::text AS net`,
        [orderId],
      ),
    );
    if (!row || row['confirmed_hour'] === null) return;
    await this.db.query(APPLY_SALE[0], [row['currency_code'], row['confirmed_hour'], -1, row['net'], -1]);
    await this.db.query(APPLY_SALE[1], [row['currency_code'], row['confirmed_hour'], orderId, -1]);
    await this.db.query(APPLY_SALE[2], [row['currency_code'], row['confirmed_hour'], orderId, -1]);
    await this.db.query(APPLY_SALE[3], [row['currency_code'], row['confirmed_hour'], orderId, -1]);
  }

  /**
   * orders.order-refunded.v1: money given back. A cancelled order's revenue is already gone (the
   * refund is only recorded); a refund of a sale that stands (partial refunds) lowers the revenue of its hour.
   */
  async recordRefunded(orderId: string, amount: string): Promise<void> {
    const [row] = returned(
      await this.db.query(
        `WITH before AS (SELECT order_id, refunded FROM sales_order WHERE order_id = $1 FOR UPDATE)
         UPDATE sales_order o SET refunded = least(o.total, o.refunded + $2::numeric) FROM before
         WHERE o.order_id = before.order_id
         RETURNING o.currency_code, o.confirmed_hour, o.cancelled, (o.refunded - before.refunded)::text AS refunded_now`,
        [orderId, amount],
      ),
    );
    // Never more than the order's total comes off its revenue (refunded_now is capped by the total).
    if (!row || row['cancelled'] === true || row['confirmed_hour'] === null) return;
    await this.db.query(APPLY_SALE[0], [row['currency_code'], row['confirmed_hour'], 0, row['refunded_now'], -1]);
  }

  /** orders.cart-created.v1 (`column` created) or orders.cart-checked-out.v1 (checked_out): +1 in the event's hour (UTC). */
  async recordCart(column: 'created' | 'checked_out', at: string): Promise<void> {
    await this.db.query(
      `INSERT INTO sales_cart_hour AS c (hour, ${column}) VALUES (date_trunc('hour', $1::timestamptz, 'UTC'), 1)
       ON CONFLICT (hour) DO UPDATE SET ${column} = c.${column} + 1`,
      [at],
    );
  }

  /**
   * Conversion over the hours of [from, to): carts checked out ÷ carts created in those hours,
   * null when no cart was created in them.
   */
  async conversion(from: Date, to: Date): Promise<number | null> {
    const [row] = (await this.db.query(
      `SELECT coalesce(sum(created), 0)::int AS created, coalesce(sum(checked_out), 0)::int AS checked_out FROM sales_cart_hour
       WHERE hour >= date_trunc('hour', $1::timestamptz, 'UTC') AND hour < $2::timestamptz`,
      [from, to],
    )) as Raw[];
    const created = Number(row?.['created'] ?? 0);
    return created === 0 ? null : Number(row?.['checked_out'] ?? 0) / created;
  }

  /** Orders, revenue and average order value per interval in [from, to), every interval listed (empty ones as 0). */
  async points(currencyCode: string, from: Date, to: Date, interval: ReportInterval): Promise<SalesPointRow[]> {
    const unit = interval.toLowerCase();
    const rows = (await this.db.query(
      `WITH buckets AS (
          SELECT generate_series(date_trunc($4, $2::timestamptz, 'UTC'), $3::timestamptz - interval '1 microsecond', ('1 ' || $4)::interval) AS start
        ), sums AS (
          SELECT date_trunc($4, h.hour, 'UTC') AS start, sum(h.orders)::int AS orders, sum(h.revenue) AS revenue
          FROM sales_hour h WHERE h.currency_code = $1 AND h.hour >= date_trunc('hour', $2::timestamptz, 'UTC') AND h.hour < $3::timestamptz
          GROUP BY 1
        )
       SELECT b.start, coalesce(s.orders, 0) AS orders, coalesce(s.revenue, 0)::numeric(16, 2)::text AS revenue,
         (CASE WHEN coalesce(s.orders, 0) > 0 THEN round(s.revenue / s.orders, 2) ELSE 0 END)::numeric(16, 2)::text AS aov
       FROM buckets b LEFT JOIN sums s ON s.start = b.start ORDER BY b.start`,
      [currencyCode, from, to, unit],
    )) as Raw[];
    return rows.map((r) => ({ start: r['start'] as Date, orders: Number(r['orders']), revenue: r['revenue'] as string, averageOrderValue: r['aov'] as string }));
  }

  /**
   * The best-selling products in [from, to) by revenue (then units), cancelled sales excluded:
   * whole months from the monthly totals, the whole days outside them from the daily ones, the
   * hours outside those from the hourly ones (all UTC), so each sale is read exactly once.
   */
  async topProducts(currencyCode: string, from: Date, to: Date, limit: number): Promise<ProductSalesRow[]> {
    const rows = (await this.db.query(
      `WITH b AS (
          SELECT date_trunc('hour', $2::timestamptz, 'UTC') AS fh, $3::timestamptz AS to_at
        ), r AS (
          SELECT fh, to_at,
            CASE WHEN date_trunc('day', fh, 'UTC') = fh THEN fh ELSE ((date_trunc('day', fh, 'UTC') AT TIME ZONE 'UTC') + interval '1 day') AT TIME ZONE 'UTC' END AS fd,
            date_trunc('day', to_at, 'UTC') AS ld,
            CASE WHEN date_trunc('month', fh, 'UTC') = fh THEN fh ELSE ((date_trunc('month', fh, 'UTC') AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC' END AS fm,
            date_trunc('month', to_at, 'UTC') AS lm
          FROM b
        ), lines AS (
          SELECT m.product_id, m.units, m.revenue FROM sales_product_month m, r
          WHERE r.fm < r.lm AND m.currency_code = $1 AND m.month >= r.fm AND m.month < r.lm
          UNION ALL
          -- the whole days before the first whole month (or all of them without one), and after the last
          SELECT d.product_id, d.units, d.revenue FROM sales_product_day d, r
          WHERE r.fd < r.ld AND d.currency_code = $1 AND d.day >= r.fd AND d.day < CASE WHEN r.fm < r.lm THEN r.fm ELSE r.ld END
          UNION ALL
          SELECT d.product_id, d.units, d.revenue FROM sales_product_day d, r
          WHERE r.fm < r.lm AND d.currency_code = $1 AND d.day >= r.lm AND d.day < r.ld
          UNION ALL
          -- the hours before the first whole day (or all of them without one), and after the last
          SELECT h.product_id, h.units, h.revenue FROM sales_product_hour h, r
          WHERE h.currency_code = $1 AND h.hour >= r.fh AND h.hour < CASE WHEN r.fd < r.ld THEN r.fd ELSE r.to_at END
          UNION ALL
          SELECT h.product_id, h.units, h.revenue FROM sales_product_hour h, r
          WHERE r.fd < r.ld AND h.currency_code = $1 AND h.hour >= r.ld AND h.hour < r.to_at
        )
       SELECT product_id, sum(units)::int AS units, sum(revenue)::numeric(16, 2)::text AS revenue FROM lines
       GROUP BY product_id HAVING sum(units) > 0
       ORDER BY sum(revenue) DESC, sum(units) DESC, product_id LIMIT $4`,
      [currencyCode, from, to, limit],
    )) as Raw[];
    return rows.map((r) => ({ productId: r['product_id'] as string, unitsSold: Number(r['units']), revenue: r['revenue'] as string }));
  }
}
