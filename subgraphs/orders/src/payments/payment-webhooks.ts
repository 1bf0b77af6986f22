/**
 * The payment provider's webhooks: how the saga learns the outcome of a payment that needed the
 * customer's authentication.
 *
 * `receive` is the endpoint's work and answers fast: it verifies the delivery (signature with the
 * signing secret, timestamp within the tolerance window; anything else is refused with 400 and has
 * no effect), then in one transaction records the provider's event id (`payment_webhook_event`,
 * primary key: a replayed id writes nothing, answers 200 `duplicate`) and puts the outcome in the
 * outbox (`orders.payment-webhook-received.v1`). The saga step runs in orders' own consumer
 * (`onWebhook`, with the inbox), like every other event: a crash after the answer loses nothing.
 */
import type { DataOf } from '@shop/events';
import { PaymentWebhookReceived } from '@shop/events';
import type { EventEnvelope, Logger, ServiceDeps } from '@shop/platform';
import { afterCommit } from '@shop/platform';
import type { EntityManager } from 'typeorm';
import { isUuid } from '../domain/checkout';
import { OrderStatus, RejectionReason } from '../domain/order-status';
import { PaymentStatus } from '../domain/payment-status';
import type { OrdersMetrics } from '../metrics';
import type { OrdersRepository } from '../persistence/orders.repository';
import type { OrderTransitions } from '../saga/order-transitions';
import { paymentFailed, paymentSucceeded } from './payment-events';
import type { PaymentProvider, PaymentWebhookEvent } from './payment-provider';
import { WebhookSignatureError } from './payment-provider';
import type { PaymentWorker } from './payment-worker';

/** What the endpoint answers: a status and a small JSON body. */
export interface WebhookAnswer {
  readonly status: number;
  readonly body: { readonly received: boolean; readonly duplicate?: boolean; readonly ignored?: boolean; readonly error?: string };
}

export class PaymentWebhooks {
  private readonly logger: Logger;

  constructor(
    private readonly deps: ServiceDeps,
    private readonly repo: OrdersRepository,
    private readonly provider: PaymentProvider,
    private readonly transitions: OrderTransitions,
    private readonly payments: PaymentWorker,
    private readonly metrics: OrdersMetrics,
  ) {
    this.logger = deps.logger.child({ component: 'payment-webhooks' });
  }

  /** One delivery to POST /webhooks/payments: verify, record its id once, queue its outcome. */
  async receive(rawBody: Buffer, signature: string | undefined): Promise<WebhookAnswer> {
    let event: PaymentWebhookEvent | null;
    try {
      event = this.provider.parseWebhook(rawBody, signature);
    } catch (error) {
      if (!(error instanceof WebhookSignatureError)) throw error;
      this.metrics.webhooks.inc({ outcome: signature ? 'bad_signature' : 'unsigned' });
      this.logger.warn({ reason: error.message }, 'payment webhook refused');
      return { status: 400, body: { received: false, error: error.message } };
    }
    if (!event) {
      this.metrics.webhooks.inc({ outcome: 'ignored' });
      return { status: 200, body: { received: true, ignored: true } };
    }
    const verified = event;
    const fresh = await this.deps.transaction(async (tx) => {
      const rows = (await tx.query(
        `INSERT INTO payment_webhook_event (provider, event_id, type) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING event_id`,
        [this.provider.name, verified.id, verified.outcome],
      )) as unknown[];
      if (rows.length === 0) return false;
      await this.deps.outbox.add(tx, PaymentWebhookReceived, verified.orderId ?? verified.chargeId, {
        provider: this.provider.name,
        providerEventId: verified.id,
        outcome: verified.outcome,
        paymentId: verified.chargeId,
        orderId: verified.orderId,
        last4: verified.last4,
        reason: verified.reason,
        receivedAt: new Date().toISOString(),
      });
      return true;
    });
    this.metrics.webhooks.inc({ outcome: fresh ? 'accepted' : 'duplicate' });
    return { status: 200, body: { received: true, duplicate: !fresh } };
  }

  /**
   * The saga goes on with a verified outcome (in the consumer's transaction, after the inbox):
   * a payment still waiting (REQUIRES_ACTION, or PENDING when the webhook beats the charge's own
   * answer) of a PENDING order → CAPTURED + CONFIRMED, or DECLINED + REJECTED PAYMENT_DECLINED
   * (inventory releases). A success for an order that moved on (saga timeout, cancellation) is
   * refunded. Anything else (a payment already settled, someone else's payment) changes nothing.
   */
  async onWebhook(tx: EntityManager, envelope: EventEnvelope<DataOf<typeof PaymentWebhookReceived>>): Promise<void> {
    const d = envelope.data;
    const orderId = d.orderId ?? (((await tx.query('SELECT order_id FROM payment WHERE charge_id = $1', [d.paymentId])) as Array<{ order_id: string }>)[0]?.order_id ?? null);
    if (!orderId || !isUuid(orderId)) return void this.logger.warn({ paymentId: d.paymentId }, 'payment webhook for an unknown payment; ignored');
    const locked = await this.repo.lockOrderAndPayment(tx, orderId);
    if (!locked) return void this.logger.warn({ orderId }, 'payment webhook for an unknown order; ignored');
    const { order, payment } = locked;
    if (payment.chargeId !== null && payment.chargeId !== d.paymentId) return void this.logger.warn({ orderId, paymentId: d.paymentId }, 'payment webhook for another payment of this order; ignored');
    const now = new Date();
    const settled = { chargeId: d.paymentId, last4: d.last4 ?? payment.last4, nextAction: null, token: null, lockedUntil: null, nextAttemptAt: null, lastError: null, updatedAt: now };
    const waiting = payment.status === PaymentStatus.RequiresAction || payment.status === PaymentStatus.Pending;
    if (order.status === OrderStatus.Pending && waiting) {
      afterCommit(tx, () => this.metrics.payments.inc({ operation: 'authentication', outcome: d.outcome === 'succeeded' ? 'approved' : 'declined' }));
      if (d.outcome === 'succeeded') {
        await this.transitions.apply(tx, order, { to: 'CONFIRMED' }, now, { ...settled, status: PaymentStatus.Captured }, [paymentSucceeded(this.deps.outbox, payment, d.paymentId, now)]);
      } else {
        const reason = d.reason ?? 'card_declined';
        await this.transitions.apply(tx, order, { to: 'REJECTED', reason: RejectionReason.PaymentDeclined, stockWasReserved: true }, now, { ...settled, status: PaymentStatus.Declined, declineReason: reason }, [
          paymentFailed(this.deps.outbox, payment, d.paymentId, reason, now),
        ]);
      }
      return;
    }
    const abandoned = payment.status === PaymentStatus.Voided || payment.status === PaymentStatus.VoidPending || payment.status === PaymentStatus.RequiresAction;
    if (d.outcome === 'succeeded' && abandoned) {
      // Authenticated after the order was rejected or cancelled: give the money back.
      await this.repo.updatePayment(tx, orderId, { ...settled, status: PaymentStatus.RefundPending, nextAttemptAt: now, attempts: 0 });
      afterCommit(tx, () => this.payments.wake());
      this.logger.warn({ orderId, status: order.status }, 'payment succeeded after its order moved on; refunding');
    } else if (d.outcome === 'failed' && (payment.status === PaymentStatus.VoidPending || payment.status === PaymentStatus.RequiresAction)) {
      await this.repo.updatePayment(tx, orderId, { ...settled, status: PaymentStatus.Declined, declineReason: d.reason ?? 'card_declined' });
    }
  }
}
