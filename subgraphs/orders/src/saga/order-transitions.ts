/**
 * The one way an order changes status: check the status machine, update the row, append the
 * status history and add the matching event to the outbox, all in the caller's transaction.
 * Metrics are recorded only once that transaction has committed.
 */
import { OrderCancelled, OrderConfirmed, OrderDelivered, OrderRejected, OrderShipped } from '@shop/events';
import type { ServiceDeps } from '@shop/platform';
import { afterCommit } from '@shop/platform';
import type { EntityManager } from 'typeorm';
import type { RejectionReason } from '../domain/order-status';
import { assertTransition, OrderStatus } from '../domain/order-status';
import type { OrdersMetrics } from '../metrics';
import type { OrderRow } from '../persistence/entities';
import type { OrdersRepository } from '../persistence/orders.repository';

/** Where an order goes, with what each target status needs. */
export type Transition =
  | { readonly to: 'CONFIRMED' }
  | { readonly to: 'REJECTED'; readonly reason: RejectionReason; readonly stockWasReserved: boolean }
  | { readonly to: 'CANCELLED'; readonly reason: string | null; readonly refunded: boolean; readonly actor: 'customer' | 'admin' }
  | { readonly to: 'SHIPPED'; readonly carrier: string; readonly trackingNumber: string }
  | { readonly to: 'DELIVERED' };

export class OrderTransitions {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly repo: OrdersRepository,
    private readonly metrics: OrdersMetrics,
  ) {}

  /**
   * Moves a locked order (`repo.lockOrder` in the same `tx`) to `t.to`. Throws InvalidTransitionError
   * for a transition the status machine does not have. Returns the updated row.
   */
  async apply(tx: EntityManager, order: OrderRow, t: Transition, now: Date = new Date()): Promise<OrderRow> {
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
    await this.repo.updateOrder(tx, order.id, patch);
    await this.repo.appendHistory(tx, order.id, t.to, historyReason, now);
    await this.publish(tx, order, t);

    const from = order.status;
    afterCommit(tx, () => {
      const reason = t.to === 'REJECTED' ? t.reason : t.to === 'CANCELLED' ? t.actor.toUpperCase() : 'none';
      this.metrics.transitions.inc({ status: t.to, reason });
      if (from === OrderStatus.Pending) this.metrics.sagaDuration.observe({ outcome: t.to }, (now.getTime() - order.createdAt.getTime()) / 1000);
      if (t.to === 'CANCELLED') this.metrics.cancellations.inc({ actor: t.actor, from });
      if (t.to === 'CONFIRMED') this.metrics.revenue.inc({ currency: order.currencyCode.trim() }, Number(order.total));
    });
    return { ...order, ...patch };
  }

  private async publish(tx: EntityManager, order: OrderRow, t: Transition): Promise<void> {
    const base = { orderId: order.id, number: order.number, userId: order.userId };
    const outbox = this.deps.outbox;
    switch (t.to) {
      case 'CONFIRMED':
        await outbox.add(tx, OrderConfirmed, order.id, { ...base, total: { amount: order.total, currencyCode: order.currencyCode } });
        return;
      case 'REJECTED':
        await outbox.add(tx, OrderRejected, order.id, { ...base, reason: t.reason, stockWasReserved: t.stockWasReserved });
        return;
      case 'CANCELLED':
        await outbox.add(tx, OrderCancelled, order.id, { ...base, reason: t.reason, refunded: t.refunded });
        return;
      case 'SHIPPED': {
        const items = await this.repo.findItems(tx, order.id);
        await outbox.add(tx, OrderShipped, order.id, {
          ...base,
          items: items.map((i) => ({ productId: i.productId, quantity: i.quantity })),
          carrier: t.carrier,
          trackingNumber: t.trackingNumber,
        });
        return;
      }
      case 'DELIVERED':
        await outbox.add(tx, OrderDelivered, order.id, base);
        return;
    }
  }
}
