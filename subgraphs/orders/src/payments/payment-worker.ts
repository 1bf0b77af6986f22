/**
 * The payment step of the saga, durable and idempotent. Payment rows that need the provider
 * (PENDING: charge; VOID_PENDING: find out whether an abandoned charge went through; REFUND_PENDING:
 * refund) are leased to one worker at a time (`locked_until`, SKIP LOCKED across replicas), the
 * provider is called outside any transaction, and the outcome is applied in a transaction that
 * locks the order first. A crash at any point leaves the row due again after its lease: the retry
 * uses the same idempotency key, so nothing is charged or refunded twice.
 */
import { OrderRefunded } from '@shop/events';
import type { BackgroundJob, Logger, ServiceDeps } from '@shop/platform';
import { PollingLoop } from '@shop/platform';
import { BrokenCircuitError } from 'cockatiel';
import { OrderStatus, RejectionReason } from '../domain/order-status';
import { chargeKey, PaymentStatus, refundKey } from '../domain/payment-status';
import type { OrdersMetrics } from '../metrics';
import type { PaymentRow } from '../persistence/entities';
import type { LeasedPayment, OrdersRepository } from '../persistence/orders.repository';
import type { OrderTransitions } from '../saga/order-transitions';
import { paymentActionRequired, paymentFailed, paymentSucceeded } from './payment-events';
import type { ChargeResult, PaymentProvider } from './payment-provider';
import { cancellationRefunded } from '../returns/cancellation-refund';

export interface PaymentWorkerOptions {
  /** How often to look for due work when nobody called `wake()`. Default 1000 ms. */
  readonly intervalMs?: number;
  /** How long a leased row is ours; must outlast one provider call with all its retries. Default 30000 ms. */
  readonly leaseMs?: number;
  /** Payments with the provider at once, at most (each a leased row); a free slot leases the next due one. Default 32. */
  readonly maxConcurrency?: number;
  /** Issue 19: the fraud rules, right before a charge; true when they held or rejected the order (no charge then). */
  readonly screen?: (payment: LeasedPayment) => Promise<boolean>;
}

export class PaymentWorker implements BackgroundJob {
  private readonly loop: PollingLoop;
  private readonly inFlight = new Set<Promise<void>>();
  /** The payment in flight of each order (at most one: a row is leased to one caller at a time). */
  private readonly inFlightByOrder = new Map<string, Promise<void>>();
  private readonly logger: Logger;

  constructor(
    private readonly deps: ServiceDeps,
    private readonly repo: OrdersRepository,
    private readonly provider: PaymentProvider,
    private readonly transitions: OrderTransitions,
    private readonly metrics: OrdersMetrics,
    private readonly options: PaymentWorkerOptions = {},
  ) {
    this.logger = deps.logger.child({ component: 'payment-worker' });
    // A pipeline, not rounds: up to maxConcurrency payments in flight, and each one that ends
    // wakes the loop to lease the next, so one slow provider call never holds back the others.
    this.loop = new PollingLoop({
      tick: async () => {
        const free = (this.options.maxConcurrency ?? 32) - this.inFlight.size;
        if (free <= 0) return false;
        const leased = await this.lease(free);
        for (const p of leased) void this.track(p.orderId, this.process(p)).then(() => this.loop.wake());
        return leased.length >= free;
      },
      intervalMs: this.options.intervalMs ?? 1_000,
      onError: (error) => this.logger.warn({ err: error }, 'payment worker round failed; will retry'),
    });
  }

  start(): void {
    this.loop.start();
  }

  /** Asks the worker to look for due work now (e.g. right after a reservation committed). */
  wake(): void {
    this.loop.wake();
  }

  /**
   * Processes one order's payment at once if it is due and not leased (a cancellation's refund),
   * so the caller can answer with the outcome. Failures are left to the background loop.
   */
  async processNow(orderId: string): Promise<void> {
    const leased = await this.lease(1, orderId);
    // The loop may have leased it a moment before: then its outcome is what the caller waits for.
    if (leased.length === 0) return this.inFlightByOrder.get(orderId);
    await Promise.all(leased.map((p) => this.track(p.orderId, this.process(p))));
  }

  async stop(): Promise<void> {
    await this.loop.stop();
    await Promise.allSettled([...this.inFlight]);
  }

  private track(orderId: string, p: Promise<void>): Promise<void> {
    this.inFlight.add(p);
    this.inFlightByOrder.set(orderId, p);
    return p.finally(() => {
      this.inFlight.delete(p);
      if (this.inFlightByOrder.get(orderId) === p) this.inFlightByOrder.delete(orderId);
    });
  }

  /** Leases up to `limit` due rows: one statement, atomic on its own (no transaction around it). */
  private async lease(limit: number, orderId?: string): Promise<LeasedPayment[]> {
    const now = new Date();
    const until = new Date(now.getTime() + (this.options.leaseMs ?? 30_000));
    return this.repo.leaseDuePayments(this.deps.dataSource.manager, now, until, limit, orderId);
  }

  /** One leased row: call the provider, then apply what it answered. Never throws. */
  private async process(p: LeasedPayment): Promise<void> {
    const operation = p.status === PaymentStatus.Pending ? 'charge' : p.status === PaymentStatus.VoidPending ? 'lookup' : 'refund';
    try {
      if (p.status === PaymentStatus.Pending) {
        if (!p.token) throw new Error('payment has no token to charge');
        if (await this.options.screen?.(p)) return;
        const result = await this.provider.charge({ idempotencyKey: chargeKey(p.orderId), amount: p.amount, currencyCode: p.currencyCode, token: p.token, orderId: p.orderId });
        // A charge that asks for authentication is not a charge outcome yet (the success-rate alert
        // counts charges): it is counted under `authentication`, with its webhook outcome later.
        if (result.outcome === 'requires_action') {
          this.metrics.payments.inc({ operation: 'authentication', outcome: 'requires_action' });
          await this.applyRequiresAction(p, result);
        } else {
          this.metrics.payments.inc({ operation, outcome: outcomeLabel(result) });
          await this.applyCharge(p, result);
        }
      } else if (p.status === PaymentStatus.VoidPending) {
        const result = await this.provider.findCharge(chargeKey(p.orderId));
        this.metrics.payments.inc({ operation, outcome: result ? outcomeLabel(result) : 'not_found' });
        await this.applyLookup(p, result);
      } else {
        if (!p.chargeId) throw new Error('refund without a charge id');
        const { refundId } = await this.provider.refund({ idempotencyKey: refundKey(p.orderId), chargeId: p.chargeId });
        this.metrics.payments.inc({ operation, outcome: 'refunded' });
        await this.applyRefund(p, refundId);
      }
    } catch (error) {
      const circuitOpen = error instanceof BrokenCircuitError;
      this.metrics.payments.inc({ operation, outcome: circuitOpen ? 'circuit_open' : 'error' });
      this.logger.warn({ err: error, orderId: p.orderId, operation, attempts: p.attempts }, 'payment step failed; rescheduled');
      await this.reschedule(p, error).catch((err: unknown) => this.logger.error({ err, orderId: p.orderId }, 'could not reschedule payment; its lease will expire'));
    }
  }

  /** Applies a charge outcome. The order may have moved on meanwhile (cancelled, timed out): then an approved charge is refunded. */
  private async applyCharge(leased: LeasedPayment, result: ChargeResult): Promise<void> {
    const now = new Date();
    const settled = { token: null, lockedUntil: null, lastError: null, last4: result.last4, chargeId: result.chargeId, nextAction: null, updatedAt: now };
    const outbox = this.deps.outbox;
    // The payment's own fact beside the order's transition (same statement).
    const fact = () =>
      result.outcome === 'approved' ? [paymentSucceeded(outbox, leased, result.chargeId, now)] : result.outcome === 'declined' ? [paymentFailed(outbox, leased, result.chargeId, result.reason, now)] : [];
    if (result.outcome === 'requires_action') {
      // Found by a lookup of an abandoned charge: nobody will complete this challenge now (a success
      // that still arrives by webhook is refunded, payments/payment-webhooks.ts).
      await this.deps.transaction(async (tx) => {
        const payment = (await this.repo.lockOrderAndPayment(tx, leased.orderId))?.payment;
        if (payment?.status === PaymentStatus.VoidPending) await this.repo.updatePayment(tx, leased.orderId, { ...settled, status: PaymentStatus.Voided, nextAttemptAt: null });
      });
      return;
    }
    if (leased.status === PaymentStatus.Pending) {
      // The usual case, the order and its payment still PENDING: one conditional statement, no
      // transaction. When either moved on meanwhile it writes nothing and the locked path decides.
      const written =
        result.outcome === 'approved'
          ? await this.transitions.applyIfPending(this.deps.dataSource.manager, leased.order, { to: 'CONFIRMED' }, now, { ...settled, status: PaymentStatus.Captured, nextAttemptAt: null }, fact())
          : await this.transitions.applyIfPending(
              this.deps.dataSource.manager,
              leased.order,
              { to: 'REJECTED', reason: RejectionReason.PaymentDeclined, stockWasReserved: true },
              now,
              { ...settled, status: PaymentStatus.Declined, declineReason: result.reason, nextAttemptAt: null },
              fact(),
            );
      if (written) return this.deps.wakeOutboxRelay();
    }
    let refundNow = false;
    await this.deps.transaction(async (tx) => {
      const locked = await this.repo.lockOrderAndPayment(tx, leased.orderId);
      if (!locked) return;
      const { order, payment } = locked;
      if (payment.status === PaymentStatus.Pending && order.status === OrderStatus.Pending) {
        // The payment's outcome and the order's transition: one statement.
        if (result.outcome === 'approved') {
          await this.transitions.apply(tx, order, { to: 'CONFIRMED' }, now, { ...settled, status: PaymentStatus.Captured, nextAttemptAt: null }, fact());
        } else {
          await this.transitions.apply(
            tx,
            order,
            { to: 'REJECTED', reason: RejectionReason.PaymentDeclined, stockWasReserved: true },
            now,
            { ...settled, status: PaymentStatus.Declined, declineReason: result.reason, nextAttemptAt: null },
            fact(),
          );
        }
      } else if (payment.status === PaymentStatus.Pending || payment.status === PaymentStatus.VoidPending) {
        // Nobody wants this charge any more: give back whatever went through.
        refundNow = result.outcome === 'approved';
        await this.repo.updatePayment(
          tx,
          order.id,
          result.outcome === 'approved'
            ? { ...settled, status: PaymentStatus.RefundPending, nextAttemptAt: now, attempts: 0 }
            : { ...settled, status: PaymentStatus.Declined, declineReason: result.reason, nextAttemptAt: null },
        );
      }
      // Any other status: another worker applied this outcome already (after our lease expired).
    });
    if (refundNow) await this.processNow(leased.orderId);
  }

  /**
   * The provider asks for the customer's authentication: the payment waits (REQUIRES_ACTION, with
   * its next action, no longer leased), the order stays PENDING, and `orders.payment-action-required.v1`
   * tells users to mail the customer. The outcome comes by webhook (payment-webhooks.ts) or the saga
   * timeout voids it. One conditional statement; if the order moved on meanwhile, the challenge is
   * simply never shown (VOIDED).
   */
  private async applyRequiresAction(leased: LeasedPayment, result: Extract<ChargeResult, { outcome: 'requires_action' }>): Promise<void> {
    const now = new Date();
    const payment: Partial<PaymentRow> = { status: PaymentStatus.RequiresAction, chargeId: result.chargeId, last4: result.last4, nextAction: result.nextAction, token: null, lockedUntil: null, nextAttemptAt: null, lastError: null, updatedAt: now };
    const written = await this.repo.writeChange(this.deps.dataSource.manager, {
      orderId: leased.orderId,
      order: { updatedAt: now },
      payment,
      events: [paymentActionRequired(this.deps.outbox, leased, leased.order, result.chargeId, result.nextAction.type, now)],
      onlyIfPending: true,
    });
    if (written) return this.deps.wakeOutboxRelay();
    await this.deps.transaction(async (tx) => {
      const locked = await this.repo.lockOrderAndPayment(tx, leased.orderId);
      if (locked?.payment.status === PaymentStatus.VoidPending) await this.repo.updatePayment(tx, leased.orderId, { ...payment, status: PaymentStatus.Voided, nextAction: null });
    });
  }

  /** Resolves an abandoned charge: not found → VOIDED, approved → refund it, declined → DECLINED. */
  private async applyLookup(leased: LeasedPayment, result: ChargeResult | null): Promise<void> {
    if (result) return this.applyCharge(leased, result);
    await this.deps.transaction(async (tx) => {
      const payment = (await this.repo.lockOrderAndPayment(tx, leased.orderId))?.payment;
      if (payment?.status !== PaymentStatus.VoidPending) return;
      await this.repo.updatePayment(tx, leased.orderId, { status: PaymentStatus.Voided, token: null, lockedUntil: null, nextAttemptAt: null, lastError: null, updatedAt: new Date() });
    });
  }

  private async applyRefund(leased: PaymentRow, refundId: string): Promise<void> {
    await this.deps.transaction(async (tx) => {
      const locked = await this.repo.lockOrderAndPayment(tx, leased.orderId);
      if (locked?.payment.status !== PaymentStatus.RefundPending) return;
      const { order, payment } = locked;
      const now = new Date();
      const refunded = this.deps.outbox.prepare(OrderRefunded, order.id, {
        orderId: order.id,
        number: order.number,
        userId: order.userId,
        amount: { amount: payment.amount, currencyCode: payment.currencyCode },
        refundedAt: now.toISOString(),
      });
      await this.repo.writeChange(tx, {
        orderId: order.id,
        order: { updatedAt: now },
        payment: { status: PaymentStatus.Refunded, refundId, lockedUntil: null, nextAttemptAt: null, lastError: null, updatedAt: now },
        events: [refunded, await cancellationRefunded(tx, this.deps.outbox, payment, now)],
      });
    });
  }

  /**
   * Gives our lease back with an exponential backoff (0.5 s doubling, at most 30 s). Whatever the
   * status became meanwhile (a cancellation turns PENDING into VOID_PENDING), the next round acts on it.
   */
  private async reschedule(leased: PaymentRow, error: unknown): Promise<void> {
    const delayMs = Math.min(30_000, 500 * 2 ** Math.max(0, leased.attempts - 1));
    const message = String(error instanceof Error ? error.message : error).slice(0, 500);
    await this.deps.dataSource.query(
      `UPDATE payment SET locked_until = NULL, next_attempt_at = $2, last_error = $3, updated_at = now()
       WHERE order_id = $1 AND locked_until = $4`,
      [leased.orderId, new Date(Date.now() + delayMs), message, leased.lockedUntil],
    );
  }
}

function outcomeLabel(result: ChargeResult): string {
  if (result.outcome === 'requires_action') return 'requires_action';
  return result.outcome === 'approved' ? 'approved' : result.reason === 'invalid_token' ? 'invalid_token' : 'declined';
}
