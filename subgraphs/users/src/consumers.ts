/**
 * Every event the users service reacts to, in one place. Each handler runs in the consumer's
 * transaction with its inbox row; the mail it queues has a dedupe key per order and kind, so
 * neither a redelivered event nor a republished one sends a mail twice.
 */
import type { DataOf } from '@shop/events';
import { OrderCancelled, OrderConfirmed, OrderShipped } from '@shop/events';
import type { EntityManager } from 'typeorm';
import type { EventHandler } from '@shop/platform';
import { on } from '@shop/platform';
import { breakdownLines } from './mail/guest-orders';
import { render } from './mail/templates';
import type { UsersParts } from './setup';

/** Queues a guest order's confirmation to the address orders answers for it (once per order: the dedupe key). */
async function queueGuestConfirmation({ store, guestContacts, deps }: UsersParts, tx: EntityManager, data: DataOf<typeof OrderConfirmed>): Promise<void> {
  if (!guestContacts.configured) return void deps.logger.warn({ orderId: data.orderId }, 'guest order confirmation not sent: ORDERS_INTERNAL_URL is not set');
  const contact = await guestContacts.lookup(data.orderId);
  if (!contact) return void deps.logger.warn({ orderId: data.orderId }, 'guest order unknown to orders; no confirmation mail');
  const rendered = render('order-confirmed', { name: 'customer', orderNumber: data.number, total: data.total, breakdown: breakdownLines(data.breakdown), guestLink: contact.link });
  await store.bind(tx).queueMail(`order-confirmed:${data.orderId}`, { to: contact.email, template: 'order-confirmed', ...rendered });
}

export function usersConsumers(parts: UsersParts): ReadonlyArray<EventHandler<any>> {
  const { service, store } = parts;
  return [
    on(OrderConfirmed, async ({ data }, tx) => {
      // A guest order (issue 18): the recipient and link come from orders (guest-orders.ts).
      if (data.guest) return void (await queueGuestConfirmation(parts, tx, data));
      await service.queueOrderMail(store.bind(tx), data.userId, data.orderId, 'order-confirmed', (name) => ({ name, orderNumber: data.number, total: data.total, breakdown: breakdownLines(data.breakdown) }));
    }),
    on(OrderCancelled, async ({ data }, tx) => {
      await service.queueOrderMail(store.bind(tx), data.userId, data.orderId, 'order-cancelled', (name) => ({ name, orderNumber: data.number, reason: data.reason, refunded: data.refunded }));
    }),
    on(OrderShipped, async ({ data }, tx) => {
      await service.queueOrderMail(store.bind(tx), data.userId, data.orderId, 'order-shipped', (name) => ({ name, orderNumber: data.number, carrier: data.carrier, trackingNumber: data.trackingNumber }));
    }),
  ];
}
