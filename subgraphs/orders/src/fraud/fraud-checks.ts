/**
 * The fraud step of the payment (issue 19): `screen` runs right before the charge (one call in the
 * payment worker) and answers whether the worker must stop there. A held order stays PENDING with
 * its payment HELD_FOR_REVIEW (no worker leases it) and its saga deadline moved to
 * FRAUD_REVIEW_HOURS from now; an admin releases it (the payment is due again and the charge goes
 * on, the rules are not asked again) or rejects it (REJECTED FRAUD_REJECTED, stock released by the
 * event). A rule that rejects does the same at once. Every decision is a `fraud_review` row.
 */
import type { Identity, ServiceDeps } from '@shop/platform';
import { afterCommit, conflict, counter, notFound, requireAdmin } from '@shop/platform';
import type { EntityManager } from 'typeorm';
import type { OrdersSettings } from '../config';
import { isUuid } from '../domain/checkout';
import { OrderStatus, RejectionReason } from '../domain/order-status';
import { PaymentStatus } from '../domain/payment-status';
import type { OrderRow, PaymentRow } from '../persistence/entities';
import type { LeasedPayment, OrdersRepository } from '../persistence/orders.repository';
import type { OrderTransitions } from '../saga/order-transitions';
import type { FraudDecision, FraudFacts } from './fraud-rules';
import { evaluateFraud, FraudRule } from './fraud-rules';

export interface FraudReviewRow {
  readonly orderId: string;
  readonly decision: 'HELD' | 'RELEASED' | 'REJECTED';
  readonly rule: string;
  readonly detail: string;
  readonly reviewedBy: string | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

function fraudMetrics() {
  return {
    decisions: counter({
      name: 'orders_fraud_decisions_total',
      help: 'Fraud decisions before the charge by outcome (held, rejected, released, admin_rejected) and reason, the rule (DECLINED_ATTEMPTS, ORDER_VELOCITY, NEW_CUSTOMER_AMOUNT, ADMIN_REJECTED, ADMIN for a release).',
      labelNames: ['outcome', 'reason'],
    }),
  };
}

export class FraudChecks {
  private readonly metrics = fraudMetrics();

  constructor(
    private readonly deps: ServiceDeps,
    private readonly repo: OrdersRepository,
    private readonly transitions: OrderTransitions,
    private readonly settings: OrdersSettings,
    /** Wakes the payment worker (after a release). */
    private readonly wakePayments: () => void,
  ) {
    for (const outcome of ['held', 'rejected']) for (const rule of [FraudRule.DeclinedAttempts, FraudRule.OrderVelocity, FraudRule.NewCustomerAmount]) this.metrics.decisions.inc({ outcome, reason: rule }, 0);
  }

  /**
   * Right before the charge of a leased PENDING payment: true when a rule held or rejected the
   * order (the worker must not charge), false to charge. An order an admin released is not asked again.
   */
  async screen(p: LeasedPayment): Promise<boolean> {
    if (!this.settings.FRAUD_CHECKS) return false;
    const now = new Date();
    const since = new Date(now.getTime() - this.settings.FRAUD_WINDOW_MINUTES * 60_000);
    const [row] = (await this.deps.dataSource.query(
      `SELECT (SELECT decision FROM fraud_review WHERE order_id = $2) AS review,
              count(*)::int AS "ordersInWindow",
              (count(*) FILTER (WHERE p.status = 'DECLINED'))::int AS "declinedInWindow",
              (SELECT min(created_at) FROM orders WHERE user_id = $1) AS "firstOrderAt"
       FROM orders o JOIN payment p ON p.order_id = o.id WHERE o.user_id = $1 AND o.created_at > $3`,
      [p.order.userId, p.orderId, since],
    )) as Array<Omit<FraudFacts, 'amount'> & { review: string | null }>;
    if (!row || row.review === 'RELEASED') return false;
    const decision = evaluateFraud({ ...row, firstOrderAt: row.firstOrderAt ?? p.order.createdAt, amount: p.amount }, this.settings, now);
    if (decision.outcome === 'allow') return false;
    await this.apply(p, decision, now);
    return true;
  }

  /** ADMIN: lets a held order's charge go on (the rules are not asked again). */
  async release(identity: Identity, orderId: string): Promise<OrderRow> {
    const admin = requireAdmin({ identity });
    await this.onHeld(orderId, async (tx, order, now) => {
      await this.repo.updatePayment(tx, order.id, { status: PaymentStatus.Pending, nextAttemptAt: now, attempts: 0, lockedUntil: null, updatedAt: now });
      await tx.query('UPDATE orders SET saga_deadline = $2, updated_at = $3 WHERE id = $1', [order.id, new Date(now.getTime() + this.settings.SAGA_TIMEOUT_MS), now]);
      await this.review(tx, order.id, 'RELEASED', null, null, admin.userId, now);
      afterCommit(tx, () => {
        this.metrics.decisions.inc({ outcome: 'released', reason: 'ADMIN' });
        this.wakePayments();
      });
    });
    return this.order(orderId);
  }

  /** ADMIN: rejects a held order (REJECTED FRAUD_REJECTED; inventory releases its stock). */
  async reject(identity: Identity, orderId: string, reason: string | null | undefined): Promise<OrderRow> {
    const admin = requireAdmin({ identity });
    const text = reason?.trim().slice(0, 500) || 'rejected by an administrator';
    await this.onHeld(orderId, async (tx, order, now) => {
      await this.transitions.apply(tx, order, { to: 'REJECTED', reason: RejectionReason.FraudRejected, stockWasReserved: true }, now, voided(now));
      await this.review(tx, order.id, 'REJECTED', FraudRule.AdminRejected, text, admin.userId, now);
      afterCommit(tx, () => this.metrics.decisions.inc({ outcome: 'admin_rejected', reason: FraudRule.AdminRejected }));
    });
    return this.order(orderId);
  }

  /** The fraud decisions of these orders (null where no rule ever fired). */
  async reviews(orderIds: readonly string[]): Promise<Array<FraudReviewRow | null>> {
    const rows = (await this.deps.dataSource.query(
      `SELECT order_id AS "orderId", decision, rule, detail, reviewed_by AS "reviewedBy", created_at AS "createdAt", updated_at AS "updatedAt" FROM fraud_review WHERE order_id = ANY($1)`,
      [orderIds],
    )) as FraudReviewRow[];
    return orderIds.map((id) => rows.find((r) => r.orderId === id) ?? null);
  }

  /** Holds or rejects a leased payment, if the order and payment are still PENDING and the lease ours. */
  private async apply(p: LeasedPayment, decision: Exclude<FraudDecision, { outcome: 'allow' }>, now: Date): Promise<void> {
    await this.deps.transaction(async (tx) => {
      const locked = await this.repo.lockOrderAndPayment(tx, p.orderId);
      if (!locked) return;
      const { order, payment } = locked;
      const ours = payment.status === PaymentStatus.Pending && order.status === OrderStatus.Pending && payment.lockedUntil?.getTime() === p.lockedUntil?.getTime();
      // Not ours any more (cancelled meanwhile: the worker's lookup of a charge never made voids it).
      if (!ours) return;
      if (decision.outcome === 'reject') {
        await this.transitions.apply(tx, order, { to: 'REJECTED', reason: RejectionReason.FraudRejected, stockWasReserved: true }, now, voided(now));
      } else {
        // Never charged: nothing to look up if it is cancelled or times out while held.
        await this.repo.updatePayment(tx, order.id, { status: PaymentStatus.HeldForReview, lockedUntil: null, nextAttemptAt: null, chargeAttempted: false, updatedAt: now });
        await tx.query('UPDATE orders SET saga_deadline = $2, updated_at = $3 WHERE id = $1', [order.id, new Date(now.getTime() + this.settings.FRAUD_REVIEW_HOURS * 3_600_000), now]);
      }
      await this.review(tx, order.id, decision.outcome === 'reject' ? 'REJECTED' : 'HELD', decision.rule, decision.detail, null, now);
      afterCommit(tx, () => {
        this.metrics.decisions.inc({ outcome: decision.outcome === 'reject' ? 'rejected' : 'held', reason: decision.rule });
        this.deps.wakeOutboxRelay();
      });
      this.deps.logger.warn({ orderId: order.id, number: order.number, outcome: decision.outcome, rule: decision.rule, detail: decision.detail }, 'fraud rule fired before the charge');
    });
  }

  /** An admin step on a held order: PENDING with its payment HELD_FOR_REVIEW, else CONFLICT (`extensions.status`). */
  private async onHeld(orderId: string, step: (tx: EntityManager, order: OrderRow, now: Date) => Promise<void>): Promise<void> {
    if (!isUuid(orderId)) throw notFound('Order', orderId);
    await this.deps.transaction(async (tx) => {
      const locked = await this.repo.lockOrderAndPayment(tx, orderId);
      if (!locked) throw notFound('Order', orderId);
      const { order, payment } = locked;
      if (order.status !== OrderStatus.Pending || payment.status !== PaymentStatus.HeldForReview) {
        throw conflict(`Order ${order.number} is not held for review (order ${order.status}, payment ${payment.status}).`, { status: order.status, paymentStatus: payment.status });
      }
      await step(tx, order, new Date());
    });
  }

  private async review(tx: EntityManager, orderId: string, decision: FraudReviewRow['decision'], rule: string | null, detail: string | null, reviewedBy: string | null, now: Date): Promise<void> {
    await tx.query(
      `INSERT INTO fraud_review (order_id, decision, rule, detail, reviewed_by, created_at, updated_at) VALUES ($1, $2, coalesce($3, ''), coalesce($4, ''), $5, $6, $6)
       ON CONFLICT (order_id) DO UPDATE SET decision = excluded.decision, rule = coalesce($3, fraud_review.rule),
         detail = CASE WHEN $4::text IS NULL THEN fraud_review.detail ELSE fraud_review.detail || '; ' || $4 END, reviewed_by = excluded.reviewed_by, updated_at = excluded.updated_at`,
      [orderId, decision, rule, detail, reviewedBy, now],
    );
  }

  private async order(id: string): Promise<OrderRow> {
    const [order] = await this.repo.findByIds([id]);
    if (!order) throw notFound('Order', id);
    return order;
  }
}

function voided(now: Date): Partial<PaymentRow> {
  return { status: PaymentStatus.Voided, token: null, lockedUntil: null, nextAttemptAt: null, chargeAttempted: false, updatedAt: now };
}
