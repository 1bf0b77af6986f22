/**
 * Every event the users service reacts to, in one place. Each handler runs in the consumer's
 * transaction with its inbox row; the mail it queues has a dedupe key per order and kind, so
 * neither a redelivered event nor a republished one sends a mail twice.
 */
import { OrderCancelled, OrderConfirmed, OrderShipped } from '@shop/events';
import type { EventHandler } from '@shop/platform';
import { on } from '@shop/platform';
import type { UsersParts } from './setup';

export function usersConsumers({ service, store }: UsersParts): ReadonlyArray<EventHandler<any>> {
  return [
    on(OrderConfirmed, async ({ data }, tx) => {
      await service.queueOrderMail(store.bind(tx), data.userId, data.orderId, 'order-confirmed', (name) => ({ name, orderNumber: data.number, total: data.total }));
    }),
    on(OrderCancelled, async ({ data }, tx) => {
      await service.queueOrderMail(store.bind(tx), data.userId, data.orderId, 'order-cancelled', (name) => ({ name, orderNumber: data.number, reason: data.reason, refunded: data.refunded }));
    }),
    on(OrderShipped, async ({ data }, tx) => {
      await service.queueOrderMail(store.bind(tx), data.userId, data.orderId, 'order-shipped', (name) => ({ name, orderNumber: data.number, carrier: data.carrier, trackingNumber: data.trackingNumber }));
    }),
  ];
}
