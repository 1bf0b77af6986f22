/**
 * The orders persistence port: single-purpose queries. Reads take the DataSource (DataLoaders batch
 * them: `findByIds`, `…ByOrderIds`); writes take the caller's transaction, so a state change, its
 * history row and its outbox event always commit together.
 */
import { In } from 'typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import { isUuid } from '../domain/checkout';
import type { OrderStatus } from '../domain/order-status';
import type { OrderItemRow, OrderRow, PaymentRow, ProductSnapshotRow, StatusChangeRow } from './entities';
import { OrderEntity, OrderItemEntity, PaymentEntity, ProductSnapshotEntity, StatusChangeEntity } from './entities';

/** A position in a newest-first list of orders. */
export interface OrderCursor {
  readonly createdAt: Date;
  readonly id: string;
}

export interface OrderPage {
  readonly rows: OrderRow[];
  readonly total: number;
}

/** Raw-SQL select list that maps the orders table onto OrderRow. */
const ORDER_COLUMNS = `o.id, o.number, o.user_id AS "userId", o.status, o.rejection_reason AS "rejectionReason", o.cancel_reason AS "cancelReason",
  o.idempotency_key AS "idempotencyKey", o.input_hash AS "inputHash", o.currency_code AS "currencyCode", o.subtotal, o.total,
  o.ship_line1 AS "shipLine1", o.ship_line2 AS "shipLine2", o.ship_city AS "shipCity", o.ship_postal_code AS "shipPostalCode",
  o.ship_country AS "shipCountry", o.carrier, o.tracking_number AS "trackingNumber", o.shipped_at AS "shippedAt",
  o.delivered_at AS "deliveredAt", o.stock_reserved_at AS "stockReservedAt", o.cancellable_until AS "cancellableUntil",
  o.saga_deadline AS "sagaDeadline", o.created_at AS "createdAt", o.updated_at AS "updatedAt"`;

function groupBy<T>(ids: readonly string[], rows: readonly T[], keyOf: (row: T) => string): T[][] {
  const map = new Map<string, T[]>(ids.map((id) => [id, []]));
  for (const row of rows) map.get(keyOf(row))?.push(row);
  return ids.map((id) => map.get(id) ?? []);
}

export class OrdersRepository {
  constructor(private readonly ds: DataSource) {}

  // ------------------------------------------------------------------ reads (batched)

  /** Orders by id, in the order asked (null where unknown or not a uuid). */
  async findByIds(ids: readonly string[]): Promise<Array<OrderRow | null>> {
    const valid = [...new Set(ids.filter(isUuid))];
    const rows = valid.length ? await this.ds.getRepository(OrderEntity).findBy({ id: In(valid) }) : [];
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.map((id) => byId.get(id) ?? null);
  }

  /** Each order's lines, in line order. */
  async findItemsByOrderIds(orderIds: readonly string[]): Promise<OrderItemRow[][]> {
    const rows = await this.ds.getRepository(OrderItemEntity).find({ where: { orderId: In([...orderIds]) }, order: { orderId: 'ASC', lineNo: 'ASC' } });
    return groupBy(orderIds, rows, (r) => r.orderId);
  }

  /** Each order's status history, oldest first. */
  async findHistoryByOrderIds(orderIds: readonly string[]): Promise<StatusChangeRow[][]> {
    const rows = await this.ds.getRepository(StatusChangeEntity).find({ where: { orderId: In([...orderIds]) }, order: { id: 'ASC' } });
    return groupBy(orderIds, rows, (r) => r.orderId);
  }

  async findPaymentsByOrderIds(orderIds: readonly string[]): Promise<Array<PaymentRow | null>> {
    const rows = await this.ds.getRepository(PaymentEntity).findBy({ orderId: In([...orderIds]) });
    const byId = new Map(rows.map((r) => [r.orderId, r]));
    return orderIds.map((id) => byId.get(id) ?? null);
  }

  /** Newest first, optionally of one status (the admin list). */
  async page(filter: { status?: OrderStatus | null }, first: number, after: OrderCursor | null): Promise<OrderPage> {
    const qb = this.ds.getRepository(OrderEntity).createQueryBuilder('o');
    if (filter.status) qb.where('o.status = :status', { status: filter.status });
    const total = await qb.getCount();
    if (after) qb.andWhere('(o.created_at, o.id) < (:createdAt, :id)', after);
    const rows = await qb.orderBy('o.created_at', 'DESC').addOrderBy('o.id', 'DESC').limit(first).getMany();
    return { rows, total };
  }

  /**
   * One page of orders for each of several users in a single query (the `User.orders` DataLoader):
   * a window function numbers each user's orders, newest first.
   */
  async pageByUsers(userIds: readonly string[], first: number, after: OrderCursor | null): Promise<OrderPage[]> {
    const rows = (await this.ds.query(
      `SELECT * FROM (
         SELECT ${ORDER_COLUMNS}, row_number() OVER (PARTITION BY o.user_id ORDER BY o.created_at DESC, o.id DESC) AS rn
         FROM orders o
         WHERE o.user_id = ANY($1) AND ($2::timestamptz IS NULL OR (o.created_at, o.id) < ($2::timestamptz, $3::uuid))
       ) t WHERE t.rn <= $4 ORDER BY t."createdAt" DESC, t.id DESC`,
      [userIds, after?.createdAt ?? null, after?.id ?? null, first],
    )) as Array<OrderRow & { rn: string }>;
    const totals = (await this.ds.query('SELECT user_id AS "userId", count(*)::int AS total FROM orders WHERE user_id = ANY($1) GROUP BY user_id', [userIds])) as Array<{
      userId: string;
      total: number;
    }>;
    const totalOf = new Map(totals.map((t) => [t.userId, t.total]));
    const grouped = groupBy(userIds, rows, (r) => r.userId);
    return userIds.map((id, i) => ({ rows: grouped[i]!.map(({ rn: _rn, ...row }) => row as OrderRow), total: totalOf.get(id) ?? 0 }));
  }

  /**
   * The saga backlog: how many orders are PENDING and when the oldest of them was placed (null
   * when none is). One query; the planner answers it from the partial index `orders_saga_due`
   * (PENDING rows only), so its cost follows the backlog, not the table.
   */
  async pendingBacklog(): Promise<{ pending: number; oldestPlacedAt: Date | null }> {
    const [row] = (await this.ds.query(`SELECT count(*)::int AS pending, min(created_at) AS oldest FROM orders WHERE status = 'PENDING'`)) as Array<{ pending: number; oldest: Date | null }>;
    return { pending: row?.pending ?? 0, oldestPlacedAt: row?.oldest ?? null };
  }

  /** The product read model for checkout (live and deleted ones: the caller tells them apart). */
  async findSnapshots(tx: EntityManager, productIds: readonly string[]): Promise<Map<string, ProductSnapshotRow>> {
    const rows = productIds.length ? await tx.getRepository(ProductSnapshotEntity).findBy({ productId: In([...productIds]) }) : [];
    return new Map(rows.map((r) => [r.productId, { ...r, currencyCode: r.currencyCode.trim() }]));
  }

  // ------------------------------------------------------------------ writes (in a transaction)

  async findByIdempotencyKey(tx: EntityManager, userId: string, key: string): Promise<OrderRow | null> {
    return tx.getRepository(OrderEntity).findOneBy({ userId, idempotencyKey: key });
  }

  async nextNumberValue(tx: EntityManager): Promise<string> {
    const [row] = (await tx.query(`SELECT nextval('order_number_seq')::text AS n`)) as Array<{ n: string }>;
    return row!.n;
  }

  /**
   * Inserts an order unless the same user already used its idempotency key (the unique
   * constraint decides, also between concurrent requests). Returns false when it already existed.
   */
  async insertOrderIfNew(tx: EntityManager, row: OrderRow): Promise<boolean> {
    const result = await tx.createQueryBuilder().insert().into(OrderEntity).values(row).orIgnore().returning('id').execute();
    return (result.raw as unknown[]).length > 0;
  }

  async insertItems(tx: EntityManager, items: readonly OrderItemRow[]): Promise<void> {
    await tx.getRepository(OrderItemEntity).insert([...items]);
  }

  async insertPayment(tx: EntityManager, row: PaymentRow): Promise<void> {
    await tx.getRepository(PaymentEntity).insert(row);
  }

  async appendHistory(tx: EntityManager, orderId: string, status: OrderStatus, reason: string | null, at: Date): Promise<void> {
    await tx.getRepository(StatusChangeEntity).insert({ orderId, status, reason, at });
  }

  /** Locks one order row for the rest of the transaction (every state change starts here). */
  async lockOrder(tx: EntityManager, id: string): Promise<OrderRow | null> {
    if (!isUuid(id)) return null;
    return tx.getRepository(OrderEntity).findOne({ where: { id }, lock: { mode: 'pessimistic_write' } });
  }

  /** Locks an order's payment row; always taken after the order's lock (one lock order: no deadlock). */
  async lockPayment(tx: EntityManager, orderId: string): Promise<PaymentRow | null> {
    return tx.getRepository(PaymentEntity).findOne({ where: { orderId }, lock: { mode: 'pessimistic_write' } });
  }

  async updateOrder(tx: EntityManager, id: string, patch: Partial<OrderRow>): Promise<void> {
    await tx.getRepository(OrderEntity).update({ id }, patch);
  }

  async updatePayment(tx: EntityManager, orderId: string, patch: Partial<PaymentRow>): Promise<void> {
    await tx.getRepository(PaymentEntity).update({ orderId }, patch);
  }

  /**
   * Leases due payment work (charges, voids, refunds) to this worker: rows whose next attempt is due
   * and that no live lease holds. SKIP LOCKED lets several replicas share the work.
   */
  async leaseDuePayments(tx: EntityManager, now: Date, leaseUntil: Date, limit: number, orderId?: string): Promise<PaymentRow[]> {
    const rows = (await tx.query(
      `UPDATE payment p SET locked_until = $2, attempts = p.attempts + 1,
         charge_attempted = p.charge_attempted OR p.status = 'PENDING', updated_at = $1
       WHERE p.order_id IN (
         SELECT order_id FROM payment
         WHERE status IN ('PENDING', 'VOID_PENDING', 'REFUND_PENDING') AND next_attempt_at <= $1
           AND (locked_until IS NULL OR locked_until <= $1) AND ($4::uuid IS NULL OR order_id = $4::uuid)
         ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)
       RETURNING p.order_id AS "orderId", p.provider, p.status, p.amount, p.currency_code AS "currencyCode", p.token, p.last4,
         p.charge_id AS "chargeId", p.refund_id AS "refundId", p.decline_reason AS "declineReason",
         p.charge_attempted AS "chargeAttempted", p.attempts, p.next_attempt_at AS "nextAttemptAt",
         p.locked_until AS "lockedUntil", p.last_error AS "lastError", p.created_at AS "createdAt", p.updated_at AS "updatedAt"`,
      [now, leaseUntil, limit, orderId ?? null],
    )) as [PaymentRow[], number] | PaymentRow[];
    // TypeORM returns [rows, affected] for UPDATE … RETURNING on Postgres.
    return (Array.isArray(rows[0]) ? rows[0] : rows) as PaymentRow[];
  }

  /** Locks up to `limit` open sagas past their deadline (SKIP LOCKED: replicas share the sweep). */
  async lockOverdueSagas(tx: EntityManager, now: Date, limit: number): Promise<OrderRow[]> {
    return (await tx.query(
      `SELECT ${ORDER_COLUMNS} FROM orders o WHERE o.status = 'PENDING' AND o.saga_deadline <= $1
       ORDER BY o.saga_deadline LIMIT $2 FOR UPDATE SKIP LOCKED`,
      [now, limit],
    )) as OrderRow[];
  }

  /** Locks up to `limit` orders of `status` last changed before `before` (the fulfilment simulator). */
  async lockStaleInStatus(tx: EntityManager, status: OrderStatus, before: Date, limit: number): Promise<OrderRow[]> {
    return (await tx.query(
      `SELECT ${ORDER_COLUMNS} FROM orders o WHERE o.status = $1 AND o.updated_at <= $2
       ORDER BY o.updated_at LIMIT $3 FOR UPDATE SKIP LOCKED`,
      [status, before, limit],
    )) as OrderRow[];
  }

  /** One order's lines inside a transaction (for the shipped event). */
  async findItems(tx: EntityManager, orderId: string): Promise<OrderItemRow[]> {
    return tx.getRepository(OrderItemEntity).find({ where: { orderId }, order: { lineNo: 'ASC' } });
  }
}
