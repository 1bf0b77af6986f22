/**
 * The returns' tables (migration 1700000750000): `order_return`, `order_return_line`, and the
 * refund columns of `payment` (`refund_committed`, `refunded_amount`). Raw SQL, one statement per
 * step; every writer of a return that touches money holds its order's and payment's locks first
 * (`OrdersRepository.lockOrderAndPayment`), then the return's.
 */
import type { DataSource, EntityManager } from 'typeorm';
import { isUuid } from '../domain/checkout';

export const ReturnStatus = {
  Requested: 'REQUESTED',
  Approved: 'APPROVED',
  Rejected: 'REJECTED',
  Received: 'RECEIVED',
  Refunded: 'REFUNDED',
} as const;
export type ReturnStatus = (typeof ReturnStatus)[keyof typeof ReturnStatus];

export interface ReturnLineRow {
  readonly productId: string;
  readonly quantity: number;
}

export interface ReturnRow {
  readonly id: string;
  readonly orderId: string;
  readonly userId: string;
  readonly status: ReturnStatus;
  readonly reason: string;
  readonly rejectionReason: string | null;
  /** Decimal string, set once received. */
  readonly refundAmount: string | null;
  readonly refundId: string | null;
  readonly currencyCode: string;
  readonly lines: readonly ReturnLineRow[];
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/** A received return whose refund this caller leased (`refund_locked_until`). */
export interface LeasedRefund {
  readonly id: string;
  readonly orderId: string;
  readonly amount: string;
  readonly attempts: number;
  readonly lockedUntil: Date;
  readonly chargeId: string | null;
}

const RETURN_COLUMNS = `r.id, r.order_id AS "orderId", r.user_id AS "userId", r.status, r.reason, r.rejection_reason AS "rejectionReason",
  r.refund_amount AS "refundAmount", r.refund_id AS "refundId", o.currency_code AS "currencyCode", r.created_at AS "createdAt", r.updated_at AS "updatedAt",
  coalesce((SELECT json_agg(json_build_object('productId', l.product_id, 'quantity', l.quantity) ORDER BY l.product_id) FROM order_return_line l WHERE l.return_id = r.id), '[]') AS lines`;

/** What a lease answers (`LeasedRefund`), from `order_return r` and its `payment p`. */
const LEASED_COLUMNS = `r.id, r.order_id AS "orderId", r.refund_amount::text AS amount, r.refund_attempts AS attempts, r.refund_locked_until AS "lockedUntil", p.charge_id AS "chargeId"`;

/** The rows of an UPDATE … RETURNING (TypeORM answers `[rows, affected]` for UPDATE and DELETE). */
function updatedRows<T>(result: unknown): T[] {
  return (result as [T[], number])[0];
}

export class ReturnsRepository {
  constructor(private readonly ds: DataSource) {}

  /** Returns of each order, oldest first (one statement for all). */
  async findByOrderIds(orderIds: readonly string[]): Promise<ReturnRow[][]> {
    const rows = (await this.ds.query(`SELECT ${RETURN_COLUMNS} FROM order_return r JOIN orders o ON o.id = r.order_id WHERE r.order_id = ANY($1) ORDER BY r.created_at, r.id`, [orderIds])) as ReturnRow[];
    return orderIds.map((id) => rows.filter((r) => r.orderId === id));
  }

  async find(manager: EntityManager, id: string, lock = false): Promise<ReturnRow | null> {
    if (!isUuid(id)) return null;
    const rows = (await manager.query(`SELECT ${RETURN_COLUMNS} FROM order_return r JOIN orders o ON o.id = r.order_id WHERE r.id = $1${lock ? ' FOR UPDATE OF r' : ''}`, [id])) as ReturnRow[];
    return rows[0] ?? null;
  }

  /** The order a return belongs to (to take the order's lock before the return's), or null. */
  async orderOf(id: string): Promise<string | null> {
    if (!isUuid(id)) return null;
    const rows = (await this.ds.query('SELECT order_id AS "orderId" FROM order_return WHERE id = $1', [id])) as Array<{ orderId: string }>;
    return rows[0]?.orderId ?? null;
  }

  /** Units of each product of an order in returns that still count (every status but REJECTED). */
  async unitsInReturns(tx: EntityManager, orderId: string): Promise<Map<string, number>> {
    const rows = (await tx.query(
      `SELECT l.product_id AS "productId", sum(l.quantity)::int AS units FROM order_return_line l JOIN order_return r ON r.id = l.return_id
       WHERE r.order_id = $1 AND r.status <> 'REJECTED' GROUP BY l.product_id`,
      [orderId],
    )) as Array<{ productId: string; units: number }>;
    return new Map(rows.map((r) => [r.productId, r.units]));
  }

  /** The goods value (Σ unit price × quantity, decimal string) of an order's returns already received. */
  async receivedValue(tx: EntityManager, orderId: string): Promise<string> {
    const [row] = (await tx.query(
      `SELECT coalesce(sum(i.unit_price * l.quantity), 0)::numeric(14,2)::text AS value
       FROM order_return r JOIN order_return_line l ON l.return_id = r.id JOIN order_item i ON i.order_id = r.order_id AND i.product_id = l.product_id
       WHERE r.order_id = $1 AND r.status IN ('RECEIVED', 'REFUNDED')`,
      [orderId],
    )) as Array<{ value: string }>;
    return row?.value ?? '0.00';
  }

  async insert(tx: EntityManager, row: { id: string; orderId: string; userId: string; reason: string; lines: readonly ReturnLineRow[]; now: Date }): Promise<void> {
    await tx.query(
      `WITH r AS (INSERT INTO order_return (id, order_id, user_id, status, reason, created_at, updated_at) VALUES ($1, $2, $3, 'REQUESTED', $4, $5, $5) RETURNING id)
       INSERT INTO order_return_line (return_id, product_id, quantity) SELECT r.id, l.product_id, l.quantity FROM r, unnest($6::uuid[], $7::int[]) AS l(product_id, quantity)`,
      [row.id, row.orderId, row.userId, row.reason, row.now, row.lines.map((l) => l.productId), row.lines.map((l) => l.quantity)],
    );
  }

  /** Moves a locked return from one status to another (the caller checked `from`). */
  async setStatus(tx: EntityManager, id: string, to: ReturnStatus, now: Date, extra: { rejectionReason?: string; refundAmount?: string; receivedBy?: string; refundDue?: boolean } = {}): Promise<void> {
    await tx.query(
      `UPDATE order_return SET status = $2, updated_at = $3, rejection_reason = coalesce($4, rejection_reason), refund_amount = coalesce($5::numeric, refund_amount),
         received_by = coalesce($6, received_by), refund_next_attempt_at = CASE WHEN $7 THEN $3 ELSE refund_next_attempt_at END
       WHERE id = $1`,
      [id, to, now, extra.rejectionReason ?? null, extra.refundAmount ?? null, extra.receivedBy ?? null, extra.refundDue ?? false],
    );
  }

  /**
   * Commits `amount` of a captured payment to a refund, only if the payment can still give it:
   * false (nothing written) otherwise. The CHECK `refund_committed <= amount` backs it.
   */
  async commitRefund(tx: EntityManager, orderId: string, amount: string): Promise<boolean> {
    const result = await tx.query(
      `UPDATE payment SET refund_committed = refund_committed + $2, updated_at = now()
       WHERE order_id = $1 AND status = 'CAPTURED' AND charge_id IS NOT NULL AND refund_committed + $2 <= amount RETURNING order_id`,
      [orderId, amount],
    );
    return updatedRows(result).length === 1;
  }

  /**
   * Leases the refund of a return being received, in the receive's transaction (the caller holds
   * the return's lock): committed leased, so no sweep can take it before the receiving call tries
   * it; if that call dies first, the lease expires and the sweep retries.
   */
  async leaseReceivedRefund(tx: EntityManager, id: string, until: Date): Promise<LeasedRefund | null> {
    const rows = updatedRows<LeasedRefund>(await tx.query(
      `UPDATE order_return r SET refund_locked_until = $2, refund_attempts = r.refund_attempts + 1 FROM payment p
       WHERE r.id = $1 AND r.status = 'RECEIVED' AND p.order_id = r.order_id RETURNING ${LEASED_COLUMNS}`,
      [id, until],
    ));
    return rows[0] ?? null;
  }

  /** Leases received returns whose refund is due and whose lease (if any) has expired, SKIP LOCKED across replicas: the sweep. */
  async leaseDueRefunds(now: Date, until: Date, limit: number): Promise<LeasedRefund[]> {
    return updatedRows<LeasedRefund>(await this.ds.query(
      `WITH due AS (
         SELECT id FROM order_return WHERE status = 'RECEIVED' AND refund_next_attempt_at <= $1 AND (refund_locked_until IS NULL OR refund_locked_until < $1)
           ORDER BY refund_next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)
       UPDATE order_return r SET refund_locked_until = $2, refund_attempts = r.refund_attempts + 1 FROM due, payment p
       WHERE r.id = due.id AND p.order_id = r.order_id RETURNING ${LEASED_COLUMNS}`,
      [now, until, limit],
    ));
  }

  /** The refund went through: the return is REFUNDED and the payment counts it (REFUNDED once all of it is). False if someone else recorded it first. */
  async recordRefund(tx: EntityManager, leased: LeasedRefund, refundId: string, now: Date): Promise<boolean> {
    const result = await tx.query(
      `WITH r AS (UPDATE order_return SET status = 'REFUNDED', refund_id = $2, refund_locked_until = NULL, refund_last_error = NULL, updated_at = $3 WHERE id = $1 AND status = 'RECEIVED' RETURNING order_id, refund_amount)
       UPDATE payment p SET refunded_amount = p.refunded_amount + r.refund_amount, updated_at = $3,
         status = CASE WHEN p.refunded_amount + r.refund_amount = p.amount THEN 'REFUNDED' ELSE p.status END
       FROM r WHERE p.order_id = r.order_id RETURNING p.order_id`,
      [leased.id, refundId, now],
    );
    return updatedRows(result).length === 1;
  }

  /** Gives a lease back with a backoff after a failed refund. */
  async rescheduleRefund(leased: LeasedRefund, next: Date, error: string): Promise<void> {
    await this.ds.query(`UPDATE order_return SET refund_locked_until = NULL, refund_next_attempt_at = $2, refund_last_error = $3, updated_at = now() WHERE id = $1 AND refund_locked_until = $4`, [
      leased.id,
      next,
      error,
      leased.lockedUntil,
    ]);
  }

  /** What each order's payment has refunded so far (decimal strings, null without a payment). */
  async refundedAmounts(orderIds: readonly string[]): Promise<Array<string | null>> {
    const rows = (await this.ds.query('SELECT order_id AS "orderId", refunded_amount::text AS refunded FROM payment WHERE order_id = ANY($1)', [orderIds])) as Array<{ orderId: string; refunded: string }>;
    const byId = new Map(rows.map((r) => [r.orderId, r.refunded]));
    return orderIds.map((id) => byId.get(id) ?? null);
  }
}
