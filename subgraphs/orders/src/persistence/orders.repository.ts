/**
 * The orders persistence port: single-purpose queries. Reads take the DataSource (DataLoaders batch
 * them: `findByIds`, `…ByOrderIds`); writes take the caller's transaction, so a state change, its
 * history row and its outbox event always commit together.
 */
import type { PreparedEvent } from '@shop/platform';
import { outboxInsert } from '@shop/platform';
import { In } from 'typeorm';
import type { DataSource, EntityManager, EntitySchema } from 'typeorm';
import { isUuid } from '../domain/checkout';
import type { OrderStatus } from '../domain/order-status';
import type { OrderItemRow, OrderRow, PaymentRow, ProductSnapshotRow, StatusChangeRow } from './entities';
import { OrderEntity, OrderItemEntity, PaymentEntity, StatusChangeEntity } from './entities';
import type { ShippingPrivacy } from '../privacy/shipping-privacy';

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
  o.discount, o.shipping, o.tax, o.coupon_codes AS "couponCodes", o.shipping_method_id AS "shippingMethodId", o.shipping_method_name AS "shippingMethodName",
  o.guest, o.email_encrypted AS "emailEncrypted", o.guest_token_hash AS "guestTokenHash",
  o.ship_line1 AS "shipLine1", o.ship_line2 AS "shipLine2", o.ship_city AS "shipCity", o.ship_postal_code AS "shipPostalCode",
  o.ship_country AS "shipCountry", o.carrier, o.tracking_number AS "trackingNumber", o.shipped_at AS "shippedAt",
  o.delivered_at AS "deliveredAt", o.stock_reserved_at AS "stockReservedAt", o.cancellable_until AS "cancellableUntil",
  o.saga_deadline AS "sagaDeadline", o.created_at AS "createdAt", o.updated_at AS "updatedAt"`;

/** Raw-SQL select list that maps the payment table (alias `p`) onto PaymentRow, each name prefixed with `prefix`. */
function paymentColumns(prefix = ''): string {
  const c = (column: string, name: string) => `p.${column} AS "${prefix}${name}"`;
  return [
    c('order_id', 'orderId'), c('provider', 'provider'), c('status', 'status'), c('amount', 'amount'), c('currency_code', 'currencyCode'),
    c('token', 'token'), c('last4', 'last4'), c('charge_id', 'chargeId'), c('refund_id', 'refundId'), c('decline_reason', 'declineReason'),
    c('charge_attempted', 'chargeAttempted'), c('attempts', 'attempts'), c('next_attempt_at', 'nextAttemptAt'), c('locked_until', 'lockedUntil'),
    c('last_error', 'lastError'), c('next_action', 'nextAction'), c('created_at', 'createdAt'), c('updated_at', 'updatedAt'),
  ].join(', ');
}
const PAYMENT_PREFIX = 'payment.';

/** A payment row leased to the worker, with what the event of its outcome needs of its order (as it was at lease time). */
export interface LeasedPayment extends PaymentRow {
  readonly order: Pick<OrderRow, 'id' | 'status' | 'number' | 'userId' | 'total' | 'subtotal' | 'discount' | 'shipping' | 'tax' | 'guest' | 'currencyCode' | 'createdAt'>;
}

/** What checkout needs to know before it writes (see `OrdersRepository.checkoutLookup`). */
export interface CheckoutLookup {
  /** The order this user already placed under the key, if any. */
  readonly knownOrderId: string | null;
  /** A fresh `order_number_seq` value; null when the key is known (no number is used up by a replay). */
  readonly numberValue: string | null;
  readonly snapshots: Map<string, ProductSnapshotRow>;
}

/** One change of an order written in one statement (see `OrdersRepository.writeChange`). */
export interface OrderChange {
  readonly orderId: string;
  readonly order: Partial<OrderRow>;
  /** The status history row of a transition. */
  readonly history?: { readonly status: OrderStatus; readonly reason: string | null; readonly at: Date };
  readonly payment?: Partial<PaymentRow>;
  /** Outbox events of the change, written only if the order row was there to change. */
  readonly events?: readonly PreparedEvent[];
  /** Changes nothing unless the order and its payment are both PENDING (no lock taken before: the statement checks). */
  readonly onlyIfPending?: boolean;
}

function groupBy<T>(ids: readonly string[], rows: readonly T[], keyOf: (row: T) => string): T[][] {
  const map = new Map<string, T[]>(ids.map((id) => [id, []]));
  for (const row of rows) map.get(keyOf(row))?.push(row);
  return ids.map((id) => map.get(id) ?? []);
}

export class OrdersRepository {
  constructor(
    private readonly ds: DataSource,
    /** Encrypts the shipping copy on insert (issue 20; read back through `ShippingPrivacy.open`). */
    private readonly privacy: ShippingPrivacy,
  ) {}

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
   * One page of orders for each of several users, with each user's total, in one statement (the
   * `User.orders` DataLoader; `me { orders }` on every storefront page): per user, its count and
   * its newest `first` orders after the cursor (a LATERAL lookup on `orders_by_user`). A user with
   * no order on the page still answers one row (the order columns null) carrying the total.
   */
  async pageByUsers(userIds: readonly string[], first: number, after: OrderCursor | null): Promise<OrderPage[]> {
    const rows = (await this.ds.query(
      `SELECT u.user_id AS "pageOf", t.n AS "orderCount", p.*
       FROM unnest($1::text[]) WITH ORDINALITY AS u(user_id, n)
       CROSS JOIN LATERAL (SELECT count(*)::int AS n FROM orders WHERE user_id = u.user_id) t
       LEFT JOIN LATERAL (
         SELECT ${ORDER_COLUMNS} FROM orders o
         WHERE o.user_id = u.user_id AND ($2::timestamptz IS NULL OR (o.created_at, o.id) < ($2::timestamptz, $3::uuid))
         ORDER BY o.created_at DESC, o.id DESC LIMIT $4
       ) p ON true
       ORDER BY u.n, p."createdAt" DESC, p.id DESC`,
      [userIds, after?.createdAt ?? null, after?.id ?? null, first],
    )) as Array<OrderRow & { pageOf: string; orderCount: number }>;
    const pages = new Map<string, { rows: OrderRow[]; total: number }>(userIds.map((id) => [id, { rows: [], total: 0 }]));
    for (const { pageOf, orderCount, ...row } of rows) {
      const page = pages.get(pageOf);
      if (!page) continue;
      page.total = orderCount;
      if (row.id !== null) page.rows.push(row as OrderRow);
    }
    return userIds.map((id) => pages.get(id)!);
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

  /**
   * Everything checkout reads, in one statement: the order this user already placed under the
   * key (a replay), else a fresh order number value, and the product read model of the lines.
   */
  async checkoutLookup(userId: string, idempotencyKey: string, productIds: readonly string[]): Promise<CheckoutLookup> {
    // A CTE with a volatile function is evaluated once (never inlined): one number per call at most.
    const rows = (await this.ds.query(
      `WITH known AS (SELECT id FROM orders WHERE user_id = $1 AND idempotency_key = $2),
            seq AS (SELECT nextval('order_number_seq')::text AS n WHERE NOT EXISTS (SELECT 1 FROM known))
       SELECT (SELECT id FROM known) AS "knownOrderId", (SELECT n FROM seq) AS "numberValue",
              s.product_id AS "productId", s.name, s.price, s.currency_code AS "currencyCode", s.deleted, s.updated_at AS "updatedAt"
       FROM (SELECT 1) AS one LEFT JOIN product_snapshot s ON s.product_id = ANY($3::uuid[])`,
      [userId, idempotencyKey, productIds],
    )) as Array<{ knownOrderId: string | null; numberValue: string | null } & { [K in keyof ProductSnapshotRow]: ProductSnapshotRow[K] | null }>;
    const first = rows[0];
    const snapshots = new Map<string, ProductSnapshotRow>();
    for (const r of rows) {
      if (r.productId === null) continue;
      snapshots.set(r.productId, { productId: r.productId, name: r.name!, price: r.price!, currencyCode: r.currencyCode!.trim(), deleted: r.deleted!, updatedAt: r.updatedAt! });
    }
    return { knownOrderId: first?.knownOrderId ?? null, numberValue: first?.numberValue ?? null, snapshots };
  }

  /**
   * Writes a new order with its lines, its first history row, its payment row and its events in
   * one statement (atomic on its own: no transaction around it), unless the same user already
   * used its idempotency key: the unique constraint decides, also between concurrent requests (a
   * twin waits on the index for the first one's commit). Returns false when the order existed.
   */
  async insertPlacedOrder(order: OrderRow, items: readonly OrderItemRow[], payment: PaymentRow, events: readonly PreparedEvent[], manager: EntityManager = this.ds.manager): Promise<boolean> {
    const params: unknown[] = [
      order.id, order.number, order.userId, order.status, order.idempotencyKey, order.inputHash, order.currencyCode, order.subtotal, order.total,
      ...this.privacy.seal(order), order.shipCountry, order.cancellableUntil, order.sagaDeadline, order.createdAt,
      items.map((i) => i.lineNo), items.map((i) => i.productId), items.map((i) => i.productName), items.map((i) => i.quantity), items.map((i) => i.unitPrice), items.map((i) => i.lineTotal),
      payment.provider, payment.status, payment.amount, payment.currencyCode, payment.token,
      order.discount, order.shipping, order.tax, order.couponCodes, order.shippingMethodId, order.shippingMethodName, order.guest, order.emailEncrypted, order.guestTokenHash,
    ];
    const outbox = outboxInsert(events, params.length + 1, 'WHERE EXISTS (SELECT 1 FROM new_order)');
    params.push(...outbox.params);
    const rows = (await manager.query(
      `WITH new_order AS (
         INSERT INTO orders (id, number, user_id, status, idempotency_key, input_hash, currency_code, subtotal, total,
           ship_line1, ship_line2, ship_city, ship_postal_code, ship_country, cancellable_until, saga_deadline, created_at, updated_at,
           discount, shipping, tax, coupon_codes, shipping_method_id, shipping_method_name, guest, email_encrypted, guest_token_hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17, $29, $30, $31, $32, $33, $34, $35, $36, $37)
         ON CONFLICT (user_id, idempotency_key) DO NOTHING
         RETURNING id),
       items AS (
         INSERT INTO order_item (order_id, line_no, product_id, product_name, quantity, unit_price, line_total)
         SELECT n.id, i.line_no, i.product_id, i.product_name, i.quantity, i.unit_price, i.line_total
         FROM new_order n, unnest($18::int[], $19::uuid[], $20::text[], $21::int[], $22::numeric[], $23::numeric[]) AS i (line_no, product_id, product_name, quantity, unit_price, line_total)),
       history AS (INSERT INTO order_status_change (order_id, status, reason, at) SELECT id, $4, NULL, $17 FROM new_order),
       payment AS (
         INSERT INTO payment (order_id, provider, status, amount, currency_code, token, charge_attempted, attempts, created_at, updated_at)
         SELECT id, $24, $25, $26, $27, $28, false, 0, $17, $17 FROM new_order),
       events AS (${outbox.sql})
       SELECT id FROM new_order`,
      params,
    )) as Array<{ id: string }>;
    return rows.length > 0;
  }

  // ------------------------------------------------------------------ writes (in a transaction)

  /**
   * Locks an order and its payment row for the rest of the transaction, in one statement; rows
   * are locked in the order of the FROM list, the order first (as every writer does: no
   * deadlock). Null for an unknown order (placement writes both rows at once, so an order always
   * has its payment).
   */
  async lockOrderAndPayment(tx: EntityManager, id: string): Promise<{ order: OrderRow; payment: PaymentRow } | null> {
    if (!isUuid(id)) return null;
    const rows = (await tx.query(`SELECT ${ORDER_COLUMNS}, ${paymentColumns(PAYMENT_PREFIX)} FROM orders o JOIN payment p ON p.order_id = o.id WHERE o.id = $1 FOR UPDATE OF o, p`, [
      id,
    ])) as Array<Record<string, unknown>>;
    const row = rows[0];
    if (!row) return null;
    const order: Record<string, unknown> = {};
    const payment: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(row)) {
      if (k.startsWith(PAYMENT_PREFIX)) payment[k.slice(PAYMENT_PREFIX.length)] = v;
      else order[k] = v;
    }
    return { order: order as unknown as OrderRow, payment: payment as unknown as PaymentRow };
  }

  /**
   * Writes one change of an order locked by the caller (`lockOrder`, `lockOrderAndPayment`) in one
   * statement: the order's columns, its history row, its payment's columns and its outbox events.
   * With `onlyIfPending`, the statement itself checks (on the newest row versions, once it holds
   * the order's lock) and answers false when the order or its payment moved on: nothing written.
   */
  async writeChange(tx: EntityManager, change: OrderChange): Promise<boolean> {
    const params: unknown[] = [change.orderId];
    const set = this.setClause(OrderEntity, change.order, params);
    // Every writer of a payment's status holds its order's lock, which the UPDATE of `o` takes first.
    const pending = change.onlyIfPending ? ` AND status = 'PENDING' AND EXISTS (SELECT 1 FROM payment WHERE order_id = $1 AND status = 'PENDING')` : '';
    const parts = [`o AS (UPDATE orders SET ${set} WHERE id = $1${pending} RETURNING id)`];
    if (change.history) {
      params.push(change.history.status, change.history.reason, change.history.at);
      const n = params.length;
      parts.push(`h AS (INSERT INTO order_status_change (order_id, status, reason, at) SELECT id, $${n - 2}, $${n - 1}, $${n} FROM o)`);
    }
    if (change.history && (change.history.status === 'REJECTED' || change.history.status === 'CANCELLED')) {
      // A rejected or cancelled order gives its coupon redemptions back (issue 18), in the same statement.
      parts.push(`r AS (UPDATE coupon_redemption SET released_at = now() FROM o WHERE coupon_redemption.order_id = o.id AND coupon_redemption.released_at IS NULL RETURNING coupon_id)`);
      parts.push(`rc AS (UPDATE coupon SET redemptions = coupon.redemptions - 1 FROM r WHERE coupon.id = r.coupon_id)`);
    }
    if (change.payment) {
      const paymentPending = change.onlyIfPending ? ` AND payment.status = 'PENDING'` : '';
      parts.push(`p AS (UPDATE payment SET ${this.setClause(PaymentEntity, change.payment, params)} FROM o WHERE payment.order_id = o.id${paymentPending})`);
    }
    if (change.events?.length) {
      const outbox = outboxInsert(change.events, params.length + 1, 'WHERE EXISTS (SELECT 1 FROM o)');
      params.push(...outbox.params);
      parts.push(`e AS (${outbox.sql})`);
    }
    const rows = (await tx.query(`WITH ${parts.join(',\n')} SELECT id FROM o`, params)) as unknown[];
    if (rows.length === 1) return true;
    if (change.onlyIfPending) return false;
    throw new Error(`order ${change.orderId} to change was not there`);
  }

  /**
   * The saga's step on a stock reservation, in one statement: a PENDING order without a
   * reservation yet records it (`stock_reserved_at`), and its CREATED payment becomes due
   * (PENDING). The order row is locked before the payment row, as by every writer. Answers whether
   * the order exists and whether the payment became due.
   */
  async recordStockReserved(tx: EntityManager, orderId: string, now: Date): Promise<{ known: boolean; paymentDue: boolean }> {
    if (!isUuid(orderId)) return { known: false, paymentDue: false };
    const [row] = (await tx.query(
      `WITH o AS (UPDATE orders SET stock_reserved_at = $2, updated_at = $2 WHERE id = $1 AND status = 'PENDING' AND stock_reserved_at IS NULL RETURNING id),
            p AS (UPDATE payment SET status = 'PENDING', next_attempt_at = $2, updated_at = $2 FROM o WHERE payment.order_id = o.id AND payment.status = 'CREATED' RETURNING payment.order_id)
       SELECT EXISTS (SELECT 1 FROM orders WHERE id = $1) AS known, EXISTS (SELECT 1 FROM p) AS due`,
      [orderId, now],
    )) as Array<{ known: boolean; due: boolean }>;
    return { known: row?.known ?? false, paymentDue: row?.due ?? false };
  }

  /** `column = $n, …` for the defined fields of a patch of `entity`'s row; the values are appended to `params`. */
  private setClause(entity: EntitySchema<any>, patch: object, params: unknown[]): string {
    const meta = this.ds.getMetadata(entity);
    const sets = Object.entries(patch)
      .filter(([, value]) => value !== undefined)
      .map(([property, value]) => {
        const column = meta.findColumnWithPropertyName(property);
        if (!column) throw new Error(`${meta.tableName} has no column for ${property}`);
        params.push(value);
        return `${column.databaseName} = $${params.length}`;
      });
    if (sets.length === 0) throw new Error(`an empty change of ${meta.tableName}`);
    return sets.join(', ');
  }

  /** The guest order whose token hashes to `hash` (issue 18). */
  async findByGuestTokenHash(hash: string): Promise<OrderRow | null> {
    return this.ds.getRepository(OrderEntity).findOneBy({ guestTokenHash: hash });
  }

  async findByIdempotencyKey(tx: EntityManager, userId: string, key: string): Promise<OrderRow | null> {
    return tx.getRepository(OrderEntity).findOneBy({ userId, idempotencyKey: key });
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

  async updatePayment(tx: EntityManager, orderId: string, patch: Partial<PaymentRow>): Promise<void> {
    await tx.getRepository(PaymentEntity).update({ orderId }, patch);
  }

  /**
   * Leases due payment work (charges, voids, refunds) to this worker: rows whose next attempt is due
   * and that no live lease holds. SKIP LOCKED lets several replicas share the work.
   */
  async leaseDuePayments(tx: EntityManager, now: Date, leaseUntil: Date, limit: number, orderId?: string): Promise<LeasedPayment[]> {
    // The order's columns come along (not locked: UPDATE … FROM locks only the payment rows) for
    // the event of the outcome, so that applying an approval needs no read.
    const rows = (await tx.query(
      `UPDATE payment p SET locked_until = $2, attempts = p.attempts + 1,
         charge_attempted = p.charge_attempted OR p.status = 'PENDING', updated_at = $1
       FROM orders o
       WHERE o.id = p.order_id AND p.order_id IN (
         SELECT order_id FROM payment
         WHERE status IN ('PENDING', 'VOID_PENDING', 'REFUND_PENDING') AND next_attempt_at <= $1
           AND (locked_until IS NULL OR locked_until <= $1) AND ($4::uuid IS NULL OR order_id = $4::uuid)
         ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)
       RETURNING p.order_id AS "orderId", p.provider, p.status, p.amount, p.currency_code AS "currencyCode", p.token, p.last4,
         p.charge_id AS "chargeId", p.refund_id AS "refundId", p.decline_reason AS "declineReason",
         p.charge_attempted AS "chargeAttempted", p.attempts, p.next_attempt_at AS "nextAttemptAt",
         p.locked_until AS "lockedUntil", p.last_error AS "lastError", p.created_at AS "createdAt", p.updated_at AS "updatedAt",
         o.id AS "order.id", o.status AS "order.status", o.number AS "order.number", o.user_id AS "order.userId", o.total AS "order.total", o.subtotal AS "order.subtotal", o.discount AS "order.discount", o.shipping AS "order.shipping", o.tax AS "order.tax", o.guest AS "order.guest",
         o.currency_code AS "order.currencyCode", o.created_at AS "order.createdAt"`,
      [now, leaseUntil, limit, orderId ?? null],
    )) as [Array<Record<string, unknown>>, number] | Array<Record<string, unknown>>;
    // TypeORM returns [rows, affected] for UPDATE … RETURNING on Postgres.
    const raw = (Array.isArray(rows[0]) ? rows[0] : rows) as Array<Record<string, unknown>>;
    return raw.map((row) => {
      const payment: Record<string, unknown> = {};
      const order: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(row)) {
        if (k.startsWith('order.')) order[k.slice('order.'.length)] = v;
        else payment[k] = v;
      }
      return { ...(payment as unknown as PaymentRow), order: order as unknown as LeasedPayment['order'] };
    });
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
