/**
 * The one way an order changes status: check the status machine, update the row, append the
 * status history and add the matching event to the outbox (one statement), all in the caller's
 * transaction.
 * Metrics are recorded only once that transaction has committed.
 */
import { OrderCancelled, OrderConfirmed, OrderDelivered, OrderRejected, OrderShipped } from '@shop/events';
import type { PreparedEvent, ServiceDeps } from '@shop/platform';
import { afterCommit } from '@shop/platform';
import type { EntityManager } from 'typeorm';
import type { RejectionReason } from '../domain/order-status';
import { assertTransition, OrderStatus } from '../domain/order-status';
import type { OrdersMetrics } from '../metrics';
import type { OrderRow, PaymentRow } from '../persistence/entities';
import type { OrdersRepository } from '../persistence/orders.repository';

/** Where an order goes, with what each target status needs. */
export type Transition =
  | { readonly to: 'CONFIRMED' }
  | { readonly to: 'REJECTED'; readonly reason: RejectionReason; readonly stockWasReserved: boolean }
  | { readonly to: 'CANCELLED'; readonly reason: string | null; readonly refunded: boolean; readonly actor: 'customer' | 'admin' }
  | { readonly to: 'SHIPPED'; readonly carrier: string; readonly trackingNumber: string }
  | { readonly to: 'DELIVERED' };

/** What a transition needs to know of its order (a full row, or what the payment worker leased with the payment). */
export type TransitionSubject = Pick<OrderRow, 'id' | 'status' | 'number' | 'userId' | 'total' | 'subtotal' | 'discount' | 'shipping' | 'tax' | 'guest' | 'currencyCode' | 'createdAt'>;

export class OrderTransitions {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly repo: OrdersRepository,
    private readonly metrics: OrdersMetrics,
  ) {}

  /**
   * Moves a locked order (`repo.lockOrder` or `repo.lockOrderAndPayment` in the same `tx`) to
   * `t.to`, with `payment` changed in the same statement when given (the caller locked it).
   * Throws InvalidTransitionError for a transition the status machine does not have. Returns the
   * updated row. One statement (two for SHIPPED, which reads the lines for its event). `extra`
   * events (a payment's outcome) are written before the transition's own, in the same statement.
   */
  async apply(tx: EntityManager, order: OrderRow, t: Transition, now: Date = new Date(), payment?: Partial<PaymentRow>, extra: readonly PreparedEvent[] = []): Promise<OrderRow> {
    const patch = await this.write(tx, order, t, now, payment, false, extra);
    return { ...order, ...patch };
  }

  /**
   * Moves a PENDING order whose payment is PENDING too to `t.to`, with `payment` changed, in one
   * conditional statement without a lock taken before (`manager` may be outside a transaction: the
   * statement is atomic on its own); false, changing nothing, when the order or its payment has
   * moved on meanwhile (then the caller locks and decides).
   */
  async applyIfPending(manager: EntityManager, order: TransitionSubject, t: Transition, now: Date, payment: Partial<PaymentRow>, extra: readonly PreparedEvent[] = []): Promise<boolean> {
    return (await this.write(manager, { ...order, status: OrderStatus.Pending }, t, now, payment, true, extra)) !== null;
  }

  private async write(tx: EntityManager, order: TransitionSubject, t: Transition, now: Date, payment: Partial<PaymentRow> | undefined, onlyIfPending: true, extra: readonly PreparedEvent[]): Promise<Partial<OrderRow> | null>;
  private async write(tx: EntityManager, order: TransitionSubject, t: Transition, now: Date, payment: Partial<PaymentRow> | undefined, onlyIfPending: false, extra: readonly PreparedEvent[]): Promise<Partial<OrderRow>>;
  private async write(tx: EntityManager, order: TransitionSubject, t: Transition, now: Date, payment: Partial<PaymentRow> | undefined, onlyIfPending: boolean, extra: readonly PreparedEvent[]): Promise<Partial<OrderRow> | null> {
    assertTransition(order.status, t.to);
    const patch: Partial<OrderRow> = { status: t.to, updatedAt: now };
    let historyReason: string | null = null;
    if (t.to === 'REJECTED') {
      patch.rejectionReason = t.reason;
      historyReason = t.reason;
    } else if (t.to === 'CANCELLED') {
      patch.cancelReason = t.reason;
      historyReason = t.reason ?? (t.actor === 'admin' ? 'Cancelled by an administrator' : 'Cancelled by the customer');
    } else if (t.to === 'SHIPPED') {
      patch.carrier = t.carrier;
      patch.trackingNumber = t.trackingNumber;
      patch.shippedAt = now;
    } else if (t.to === 'DELIVERED') {
      patch.deliveredAt = now;
    }
    const event = await this.event(tx, order, t);
    const written = await this.repo.writeChange(tx, {
      orderId: order.id,
      order: patch,
      history: { status: t.to, reason: historyReason, at: now },
      events: [...extra, event],
      ...(payment ? { payment } : {}),
      ...(onlyIfPending ? { onlyIfPending } : {}),
    });
    if (!written) return null;

    const from = order.status;
    afterCommit(tx, () => {
      const reason = t.to === 'REJECTED' ? t.reason : t.to === 'CANCELLED' ? t.actor.toUpperCase() : 'none';
      this.metrics.transitions.inc({ status: t.to, reason });
      if (from === OrderStatus.Pending) this.metrics.sagaDuration.observe({ outcome: t.to }, (now.getTime() - order.createdAt.getTime()) / 1000);
      if (t.to === 'CANCELLED') this.metrics.cancellations.inc({ actor: t.actor, from });
      if (t.to === 'CONFIRMED') this.metrics.revenue.inc({ currency: order.currencyCode.trim() }, Number(order.total));
    });
    return patch;
  }

  /** The event of a transition, prepared for the outbox. */
  private async event(tx: EntityManager, order: TransitionSubject, t: Transition): Promise<PreparedEvent> {
    const base = { orderId: order.id, number: order.number, userId: order.userId };
    const outbox = this.deps.outbox;
    switch (t.to) {
      case 'CONFIRMED': {
        const m = (amount: string) => ({ amount, currencyCode: order.currencyCode });
        const breakdown = { subtotal: m(order.subtotal), discount: m(order.discount), shipping: m(order.shipping), tax: m(order.tax), total: m(order.total) };
        return outbox.prepare(OrderConfirmed, order.id, { ...base, total: m(order.total), breakdown, guest: order.guest });
      }
      case 'REJECTED':
        return outbox.prepare(OrderRejected, order.id, { ...base, reason: t.reason, stockWasReserved: t.stockWasReserved });
      case 'CANCELLED':
        return outbox.prepare(OrderCancelled, order.id, { ...base, reason: t.reason, refunded: t.refunded });
      case 'SHIPPED': {
        const items = await this.repo.findItems(tx, order.id);
        return outbox.prepare(OrderShipped, order.id, {
          ...base,
          items: items.map((i) => ({ productId: i.productId, quantity: i.quantity })),
          carrier: t.carrier,
          trackingNumber: t.trackingNumber,
        });
      }
      case 'DELIVERED':
        return outbox.prepare(OrderDelivered, order.id, base);
    }
  }
}
