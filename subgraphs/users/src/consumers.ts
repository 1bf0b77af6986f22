/**
 * Every event the users service reacts to, in one place. Each handler runs in the consumer's
 * transaction with its inbox row; the notification it queues has a dedupe key per order, kind,
 * channel and recipient, so neither a redelivered event nor a republished one notifies twice.
 *
 * - orders.order-*.v1: placed, confirmed, rejected (with the reason), shipped (with tracking),
 *   delivered, cancelled, refunded, and orders.payment-action-required.v1 (3-D Secure): the owner (or a guest order's contact) is notified on their
 *   orderUpdates channels.
 * - inventory.stock-changed.v1: available stock going from 0 to above 0 triggers the product's
 *   back-in-stock requests (the batcher sends them).
 * - catalog.product-created/updated.v1: product names, for the back-in-stock messages.
 */
import { OrderCancelled, OrderConfirmed, OrderDelivered, OrderPlaced, OrderRefunded, OrderRejected, OrderShipped, PaymentActionRequired, ProductCreated, ProductUpdated, ReturnApproved, ReturnReceived, ReturnRefunded, StockChanged } from '@shop/events';
import type { EventHandler } from '@shop/platform';
import { on } from '@shop/platform';
import { breakdownLines } from './mail/guest-orders';
import type { UsersParts } from './setup';

/** A guest order's link (with its token) for its mails; nothing for a customer's order. */
function guestLink(recipient: { orderLink?: string | null }): { guestLink?: string } {
  return recipient.orderLink ? { guestLink: recipient.orderLink } : {};
}

export function usersConsumers({ notifications, store, settings }: UsersParts): ReadonlyArray<EventHandler<any>> {
  return [
    on(OrderPlaced, async ({ data }, tx) => {
      await notifications.notifyOrder(store.bind(tx), data, { template: 'order-placed', data: (name, recipient) => ({ name, orderNumber: data.number, total: data.total, ...guestLink(recipient) }) });
    }),
    on(OrderConfirmed, async ({ data }, tx) => {
      // The price breakdown (issue 18), and for a guest the link with its order's token (from orders).
      await notifications.notifyOrder(store.bind(tx), data, {
        template: 'order-confirmed',
        data: (name, recipient) => ({ name, orderNumber: data.number, total: data.total, breakdown: breakdownLines(data.breakdown), ...guestLink(recipient) }),
      });
    }),
    on(OrderRejected, async ({ data }, tx) => {
      await notifications.notifyOrder(store.bind(tx), data, { template: 'order-rejected', data: (name, recipient) => ({ name, orderNumber: data.number, reason: data.reason, ...guestLink(recipient) }) });
    }),
    on(OrderShipped, async ({ data }, tx) => {
      await notifications.notifyOrder(store.bind(tx), data, {
        template: 'order-shipped',
        data: (name, recipient) => ({ name, orderNumber: data.number, carrier: data.carrier, trackingNumber: data.trackingNumber, ...guestLink(recipient) }),
      });
    }),
    on(OrderDelivered, async ({ data }, tx) => {
      await notifications.notifyOrder(store.bind(tx), data, { template: 'order-delivered', data: (name, recipient) => ({ name, orderNumber: data.number, ...guestLink(recipient) }) });
    }),
    on(OrderCancelled, async ({ data }, tx) => {
      await notifications.notifyOrder(store.bind(tx), data, {
        template: 'order-cancelled',
        data: (name, recipient) => ({ name, orderNumber: data.number, reason: data.reason, refunded: data.refunded, ...guestLink(recipient) }),
      });
    }),
    on(OrderRefunded, async ({ data }, tx) => {
      await notifications.notifyOrder(store.bind(tx), data, { template: 'order-refunded', data: (name, recipient) => ({ name, orderNumber: data.number, amount: data.amount, ...guestLink(recipient) }) });
    }),
    // Returns (issue 19): keyed by the return (an order may have several), sent to the order's owner (returns are never a guest's).
    on(ReturnApproved, async ({ data }, tx) => {
      await notifications.notifyOrder(store.bind(tx), { orderId: data.returnId, userId: data.userId }, { template: 'return-approved', data: (name) => ({ name, orderNumber: data.number }) });
    }),
    on(ReturnReceived, async ({ data }, tx) => {
      await notifications.notifyOrder(store.bind(tx), { orderId: data.returnId, userId: data.userId }, { template: 'return-received', data: (name) => ({ name, orderNumber: data.number }) });
    }),
    on(ReturnRefunded, async ({ data }, tx) => {
      await notifications.notifyOrder(store.bind(tx), { orderId: data.returnId, userId: data.userId }, { template: 'return-refunded', data: (name) => ({ name, orderNumber: data.number, amount: data.amount }) });
    }),
    // Issue 19: the bank asks the customer to authenticate the payment (3-D Secure); amounts arrive in minor units.
    on(PaymentActionRequired, async ({ data }, tx) => {
      const amount = { amount: (data.amountMinor / 100).toFixed(2), currencyCode: data.currencyCode };
      const orderUrl = new URL(`/orders/${data.orderId}`, settings.PUBLIC_APP_URL).toString();
      await notifications.notifyOrder(store.bind(tx), data, { template: 'payment-action-required', data: (name, recipient) => ({ name, orderNumber: data.number, amount, orderUrl, ...guestLink(recipient) }) });
    }),
    on(StockChanged, async ({ data }, tx) => {
      await notifications.onStockLevel(store.bind(tx), data.productId, data.available, data.version);
    }),
    on(ProductCreated, async ({ data }, tx) => store.bind(tx).stockNotifications.saveProductName(data.productId, data.name, data.slug)),
    on(ProductUpdated, async ({ data }, tx) => store.bind(tx).stockNotifications.saveProductName(data.productId, data.name, data.slug)),
  ];
}
