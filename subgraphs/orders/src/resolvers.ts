/** Thin resolvers: argument shapes, authentication, then the service, the loaders or a mapping. */
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/resolverMap';
import { badUserInput, requireAdmin, requireUser } from '@shop/platform';
import { orderPricingResolvers } from './carts/resolvers';
import type { OrdersContext } from './context';
import type { PlaceOrderInput } from './domain/checkout';
import { isUuid } from './domain/checkout';
import type { OrderStatus } from './domain/order-status';
import { OrderStatus as Status } from './domain/order-status';
import type { OrderItemRow, OrderRow, PaymentRow, StatusChangeRow } from './persistence/entities';
import type { OrderCursor, OrderPage } from './persistence/orders.repository';
import type { SalesReportArgs } from './reports/sales-report';

/** Largest page of orders. */
const MAX_PAGE = 100;

function decodeCursor(after: string | null | undefined): OrderCursor | null {
  if (!after) return null;
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(after, 'base64url').toString('utf8')) as [string, string];
    const at = new Date(createdAt);
    if (typeof id !== 'string' || !isUuid(id) || Number.isNaN(at.getTime())) throw new Error('bad cursor');
    return { createdAt: at, id };
  } catch {
    throw badUserInput('after', 'Invalid cursor: pass the endCursor of a previous page.');
  }
}

function encodeCursor(o: OrderRow): string {
  return Buffer.from(JSON.stringify([o.createdAt.toISOString(), o.id])).toString('base64url');
}

function pageSize(first: number): number {
  if (!Number.isInteger(first) || first < 0 || first > MAX_PAGE) throw badUserInput('first', `first must be between 0 and ${MAX_PAGE}.`);
  return first;
}

/** A connection from a page fetched with one extra row (which tells whether there is a next page). */
function connection(page: OrderPage, first: number, ctx: OrdersContext) {
  const rows = page.rows.slice(0, first);
  for (const o of rows) ctx.loaders.order.prime(o.id, o);
  return {
    edges: rows.map((node) => ({ cursor: encodeCursor(node), node })),
    pageInfo: { hasNextPage: page.rows.length > first, endCursor: rows.length ? encodeCursor(rows[rows.length - 1]!) : null },
    totalCount: page.total,
  };
}

const money = (amount: string, currencyCode: string) => ({ amount, currencyCode });

type ItemWithCurrency = OrderItemRow & { currencyCode: string };

export const resolvers: GraphQLResolverMap<OrdersContext> = {
  Query: {
    salesReport: (_: unknown, args: SalesReportArgs, ctx: OrdersContext) => ctx.orders.salesReport.report(ctx, args),
    order: async (_: unknown, { id }: { id: string }, ctx: OrdersContext) => {
      const identity = requireUser(ctx);
      const order = await ctx.loaders.order.load(id);
      if (!order) return null;
      ctx.orders.service.assertCanRead(identity, order);
      return order;
    },
    orders: async (_: unknown, args: { status?: OrderStatus | null; first: number; after?: string | null }, ctx: OrdersContext) => {
      requireAdmin(ctx);
      const first = pageSize(args.first);
      const page = await ctx.orders.repo.page({ status: args.status ?? null }, first + 1, decodeCursor(args.after));
      return connection(page, first, ctx);
    },
  },
  Mutation: {
    placeOrder: (_: unknown, { input }: { input: PlaceOrderInput }, ctx: OrdersContext) => ctx.orders.service.placeOrder(requireUser(ctx), input),
    cancelOrder: (_: unknown, { id, reason }: { id: string; reason?: string | null }, ctx: OrdersContext) => ctx.orders.service.cancelOrder(requireUser(ctx), id, reason),
    shipOrder: (_: unknown, a: { id: string; carrier: string; trackingNumber: string }, ctx: OrdersContext) =>
      ctx.orders.service.shipOrder(requireUser(ctx), a.id, a.carrier, a.trackingNumber),
    markDelivered: (_: unknown, { id }: { id: string }, ctx: OrdersContext) => ctx.orders.service.markDelivered(requireUser(ctx), id),
  },
  User: {
    __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
    orders: async (user: { id: string }, args: { first: number; after?: string | null }, ctx: OrdersContext) => {
      ctx.orders.service.assertCanReadOrdersOf(requireUser(ctx), user.id);
      const first = pageSize(args.first);
      const page = await ctx.loaders.userOrders.load({ userId: user.id, first: first + 1, after: decodeCursor(args.after) });
      return connection(page, first, ctx);
    },
  },
  Order: {
    __resolveReference: async (ref: { id: string; user?: { email?: string | null } | null }, ctx: OrdersContext) => {
      const order = await ctx.loaders.order.load(ref.id);
      // A guest order reaches an entity fetch only through the root field that checked its token
      // (guestOrder, guestOrderUpdated, cancelGuestOrder): the plan's next step is anonymous too.
      if (order && !(order.guest && !ctx.identity)) ctx.orders.service.assertCanRead(requireUser(ctx), order);
      else if (!order) requireUser(ctx);
      // `user { email }` comes along when the gateway resolves Order.email (@requires).
      return order && 'user' in ref ? { ...order, requiredUser: ref.user } : order;
    },
    ...orderPricingResolvers,
    statusHistory: (o: OrderRow, _: unknown, ctx: OrdersContext) =>
      ctx.loaders.history.load(o.id).then((rows) => rows.map((h: StatusChangeRow) => ({ status: h.status, at: h.at.toISOString(), reason: h.reason }))),
    items: (o: OrderRow, _: unknown, ctx: OrdersContext) => ctx.loaders.items.load(o.id).then((rows) => rows.map((i): ItemWithCurrency => ({ ...i, currencyCode: o.currencyCode }))),
    subtotal: (o: OrderRow) => money(o.subtotal, o.currencyCode),
    total: (o: OrderRow) => money(o.total, o.currencyCode),
    user: (o: OrderRow) => ({ __typename: 'User', id: o.userId }),
    shippingAddress: (o: OrderRow, _: unknown, ctx: OrdersContext) => ctx.orders.privacy.open(o),
    payment: (o: OrderRow, _: unknown, ctx: OrdersContext) =>
      ctx.loaders.payment.load(o.id).then((p: PaymentRow | null) => (p ? { orderId: o.id, currencyCode: o.currencyCode, status: p.status, provider: p.provider, last4: p.last4, declineReason: p.declineReason, nextAction: p.status === 'REQUIRES_ACTION' ? (p.nextAction ?? null) : null } : null)),
    shipment: (o: OrderRow) =>
      o.carrier && o.trackingNumber && o.shippedAt
        ? { carrier: o.carrier, trackingNumber: o.trackingNumber, shippedAt: o.shippedAt.toISOString(), deliveredAt: o.deliveredAt?.toISOString() ?? null }
        : null,
    // Only while cancelling is still possible at all (before shipping, not after a final status).
    cancellableUntil: (o: OrderRow) => (o.status === Status.Pending || o.status === Status.Confirmed ? o.cancellableUntil.toISOString() : null),
    createdAt: (o: OrderRow) => o.createdAt.toISOString(),
    updatedAt: (o: OrderRow) => o.updatedAt.toISOString(),
  },
  OrderItem: {
    product: (i: ItemWithCurrency) => ({ __typename: 'Product', id: i.productId }),
    unitPrice: (i: ItemWithCurrency) => money(i.unitPrice, i.currencyCode),
    lineTotal: (i: ItemWithCurrency) => money(i.lineTotal, i.currencyCode),
  },
};
