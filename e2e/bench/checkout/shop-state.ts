/**
 * What the benchmark reads from the shop's own databases once the load is over: the orders of a
 * phase with their server-side timestamps (orders), the stock and reservations (inventory). Read
 * over connections named BENCH_APPLICATION_NAME, so the SQL counter leaves them out.
 */
import { Pool } from 'pg';
import { BENCH_APPLICATION_NAME } from './sql-counter';

export interface OrderState {
  readonly id: string;
  readonly key: string;
  readonly status: string;
  readonly rejectionReason: string | null;
  /** The payment's status (what a PENDING order waits for), null without a payment row. */
  readonly paymentStatus: string | null;
  /** Epoch ms (the orders service's clock, the same host as the client). */
  readonly createdAt: number;
  readonly confirmedAt: number | null;
  /** When it left PENDING (null while pending). */
  readonly finalAt: number | null;
  readonly items: ReadonlyArray<{ productId: string; quantity: number }>;
}

export interface StockState {
  readonly productId: string;
  readonly onHand: number;
  readonly reserved: number;
  readonly initialOnHand: number;
  /** Sum of the product's RESERVED reservation lines. */
  readonly openReservations: number;
}

export interface ReservationLineState {
  readonly orderId: string;
  readonly productId: string;
  readonly quantity: number;
  readonly status: string;
}

export const FINAL_STATUSES: ReadonlySet<string> = new Set(['CONFIRMED', 'REJECTED', 'CANCELLED', 'SHIPPED', 'DELIVERED']);

export function benchPool(url: string, max = 2): Pool {
  return new Pool({ connectionString: url, max, application_name: BENCH_APPLICATION_NAME });
}

/** `LIKE` pattern of every idempotency key that starts with `prefix`. */
function keyPattern(prefix: string): string {
  return `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}-%`;
}

export class ShopState {
  constructor(
    private readonly orders: Pool,
    private readonly inventory: Pool,
  ) {}

  static open(ordersUrl: string, inventoryUrl: string): ShopState {
    return new ShopState(benchPool(ordersUrl), benchPool(inventoryUrl));
  }

  /** Orders whose idempotency key starts with `prefix`: how many, how many still PENDING. */
  async progress(prefix: string): Promise<{ total: number; pending: number }> {
    const { rows } = await this.orders.query<{ total: number; pending: number }>(
      `SELECT count(*)::int AS total, count(*) FILTER (WHERE status = 'PENDING')::int AS pending FROM orders WHERE idempotency_key LIKE $1`,
      [keyPattern(prefix)],
    );
    return rows[0]!;
  }

  async ordersWithPrefix(prefix: string): Promise<OrderState[]> {
    const { rows } = await this.orders.query<{
      id: string;
      key: string;
      status: string;
      reason: string | null;
      payment: string | null;
      created: Date;
      confirmed: Date | null;
      final: Date | null;
      items: Array<{ productId: string; quantity: number }> | null;
    }>(
      `SELECT o.id, o.idempotency_key AS key, o.status, o.rejection_reason AS reason, o.created_at AS created,
              (SELECT p.status FROM payment p WHERE p.order_id = o.id) AS payment,
              (SELECT min(c.at) FROM order_status_change c WHERE c.order_id = o.id AND c.status = 'CONFIRMED') AS confirmed,
              (SELECT min(c.at) FROM order_status_change c WHERE c.order_id = o.id AND c.status <> 'PENDING') AS final,
              (SELECT json_agg(json_build_object('productId', i.product_id, 'quantity', i.quantity)) FROM order_item i WHERE i.order_id = o.id) AS items
       FROM orders o WHERE o.idempotency_key LIKE $1`,
      [keyPattern(prefix)],
    );
    return rows.map((r) => ({
      id: r.id,
      key: r.key,
      status: r.status,
      rejectionReason: r.reason,
      paymentStatus: r.payment,
      createdAt: r.created.getTime(),
      confirmedAt: r.confirmed?.getTime() ?? null,
      finalAt: r.status === 'PENDING' ? null : (r.final?.getTime() ?? null),
      items: r.items ?? [],
    }));
  }

  /** Whether orders' read model and inventory both know every product (they fill from catalog events). */
  async productsKnown(productIds: readonly string[]): Promise<boolean> {
    const [snapshots, stock] = await Promise.all([
      this.orders.query<{ n: number }>('SELECT count(*)::int AS n FROM product_snapshot WHERE product_id = ANY($1::uuid[])', [productIds]),
      this.inventory.query<{ n: number }>('SELECT count(*)::int AS n FROM stock WHERE product_id = ANY($1::uuid[])', [productIds]),
    ]);
    return snapshots.rows[0]!.n === productIds.length && stock.rows[0]!.n === productIds.length;
  }

  async stock(productIds: readonly string[]): Promise<StockState[]> {
    const { rows } = await this.inventory.query<StockState>(
      `SELECT s.product_id AS "productId", s.on_hand AS "onHand", s.reserved, s.initial_on_hand AS "initialOnHand",
              coalesce((SELECT sum(r.quantity) FROM reservation r WHERE r.product_id = s.product_id AND r.status = 'RESERVED'), 0)::int AS "openReservations"
       FROM stock s WHERE s.product_id = ANY($1::uuid[]) ORDER BY s.product_id`,
      [productIds],
    );
    return rows;
  }

  async reservations(orderIds: readonly string[]): Promise<ReservationLineState[]> {
    if (orderIds.length === 0) return [];
    const { rows } = await this.inventory.query<ReservationLineState>(
      `SELECT order_id AS "orderId", product_id AS "productId", quantity, status FROM reservation WHERE order_id = ANY($1::text[])`,
      [orderIds],
    );
    return rows;
  }

  async close(): Promise<void> {
    await Promise.all([this.orders.end(), this.inventory.end()]);
  }
}
