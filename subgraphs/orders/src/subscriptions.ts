/**
 * Orders' GraphQL subscriptions (`orderUpdated`, `myOrderUpdated`), served over graphql-ws to the
 * gateway by the platform (the service's `live` hook). Each replica follows the order topic with a live
 * listener of its own (every replica sees every event) and feeds its in-memory pub/sub.
 *
 * One event = one change of an order (placed, confirmed, rejected, cancelled, shipped, delivered,
 * refunded). Events of an order are keyed by its id, so they arrive in the order they happened.
 * Each is resolved as the order read at delivery with `status` set to the status the event
 * announces: a client sees every transition, in order, even when the next one has already been
 * committed by the time the first is delivered (the saga can confirm within milliseconds). The
 * other fields are the freshest: they may already reflect a later change, never an earlier one.
 *
 * Access: `orderUpdated` is for the order's owner or an admin (checked at subscribe: FORBIDDEN
 * otherwise); `myOrderUpdated` only ever receives events whose order belongs to the caller.
 */
import { OrderCancelled, OrderConfirmed, OrderDelivered, OrderPlaced, OrderRefunded, OrderRejected, OrderShipped } from '@shop/events';
import type { EventDefinition } from '@shop/events';
import type { EventEnvelope, LiveEvent, LiveHandler } from '@shop/platform';
import { badUserInput, isAdmin, liveResumeOf, notFound, onLive, requireUser } from '@shop/platform';
import type { OrdersContext } from './context';
import { isUuid } from './domain/checkout';
import type { OrderStatus } from './domain/order-status';
import { OrderStatus as Status } from './domain/order-status';
import type { OrderRow } from './persistence/entities';
import type { OrderChange, OrdersParts } from './setup';

/** The status each order event announces. */
const STATUS_OF: ReadonlyArray<readonly [EventDefinition<{ orderId: string; userId: string }>, OrderStatus]> = [
  [OrderPlaced, Status.Pending],
  [OrderConfirmed, Status.Confirmed],
  [OrderRejected, Status.Rejected],
  [OrderCancelled, Status.Cancelled],
  [OrderShipped, Status.Shipped],
  [OrderDelivered, Status.Delivered],
  [OrderRefunded, Status.Cancelled],
];

/** The order as of this change (see the module comment). */
async function resolveChange({ payload: change }: LiveEvent<OrderChange>, _: unknown, ctx: OrdersContext): Promise<OrderRow> {
  const order = await ctx.loaders.order.load(change.orderId);
  if (!order) throw notFound('Order', change.orderId);
  return { ...order, status: change.status };
}

/** The `Subscription` resolvers (merged into the service's resolver map). */
export const subscriptionResolvers = {
  orderUpdated: {
    subscribe: async (_: unknown, args: { orderId: string }, ctx: OrdersContext) => {
      const identity = requireUser(ctx);
      if (!isUuid(args.orderId)) throw badUserInput('orderId', `"${args.orderId.slice(0, 60)}" is not an order id.`);
      const orderId = args.orderId.toLowerCase();
      const order = await ctx.loaders.order.load(orderId);
      if (!order) throw notFound('Order', args.orderId);
      ctx.orders.service.assertCanRead(identity, order);
      // The owner or an admin, checked again for each event (a replay included), as at subscribe.
      const admin = isAdmin(identity);
      return ctx.orders.live.subscribe('order-changed', { filter: (c) => c.orderId === orderId && (admin || c.userId === identity.userId), resume: liveResumeOf(ctx) });
    },
    resolve: resolveChange,
  },
  myOrderUpdated: {
    subscribe: (_: unknown, __: unknown, ctx: OrdersContext) => {
      const { userId } = requireUser(ctx);
      return ctx.orders.live.subscribe('order-changed', { filter: (c) => c.userId === userId, resume: liveResumeOf(ctx) });
    },
    resolve: resolveChange,
  },
  guestOrderUpdated: {
    subscribe: async (_: unknown, args: { token: string }, ctx: OrdersContext) => {
      const order = await ctx.orders.carts.guestOrder(args.token);
      if (!order) throw badUserInput('token', 'This link is not valid (or no longer).');
      return ctx.orders.live.subscribe('order-changed', { filter: (c) => c.orderId === order.id, resume: liveResumeOf(ctx) });
    },
    resolve: resolveChange,
  },
};

/** The service's `live` hook: the order events feed its pub/sub. */
export function ordersLive({ live }: OrdersParts): ReadonlyArray<LiveHandler<any>> {
  return STATUS_OF.map(
    ([event, status]): LiveHandler<{ orderId: string; userId: string }> =>
      onLive(event, (e: EventEnvelope<{ orderId: string; userId: string }>) => live.publish('order-changed', { orderId: e.data.orderId, userId: e.data.userId, status }, e.occurredAt)),
  );
}
