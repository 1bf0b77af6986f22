/** Issue 19: returns (`requestReturn`, admin steps, `Order.returns`) and `Payment.refundedAmount`. */
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/resolverMap';
import { requireUser } from '@shop/platform';
import type { OrdersContext } from '../context';
import type { OrderRow } from '../persistence/entities';
import type { ReturnLineInput } from './returns.service';
import type { ReturnLineRow, ReturnRow } from './returns.repository';
import { ReturnStatus } from './returns.repository';

/** What `Order.payment` hands down (resolvers.ts). */
interface PaymentView {
  readonly orderId: string;
  readonly currencyCode: string;
}

export const returnResolvers: GraphQLResolverMap<OrdersContext> = {
  Mutation: {
    requestReturn: (_: unknown, a: { orderId: string; lines: ReturnLineInput[]; reason: string }, ctx: OrdersContext) => ctx.orders.returns.request(requireUser(ctx), a.orderId, a.lines, a.reason),
    approveReturn: (_: unknown, { id }: { id: string }, ctx: OrdersContext) => ctx.orders.returns.approve(requireUser(ctx), id),
    rejectReturn: (_: unknown, a: { id: string; reason: string }, ctx: OrdersContext) => ctx.orders.returns.reject(requireUser(ctx), a.id, a.reason),
    receiveReturn: (_: unknown, { id }: { id: string }, ctx: OrdersContext) => ctx.orders.returns.receive(requireUser(ctx), id),
  },
  Order: {
    returns: (o: OrderRow, _: unknown, ctx: OrdersContext) => ctx.returnLoaders.returns.load(o.id),
  },
  Payment: {
    refundedAmount: async (p: PaymentView, _: unknown, ctx: OrdersContext) => {
      const amount = await ctx.returnLoaders.refunded.load(p.orderId);
      return amount === null ? null : { amount, currencyCode: p.currencyCode };
    },
  },
  Return: {
    lines: (r: ReturnRow) => r.lines,
    refund: (r: ReturnRow) => (r.status === ReturnStatus.Refunded && r.refundAmount !== null ? { amount: r.refundAmount, currencyCode: r.currencyCode } : null),
    createdAt: (r: ReturnRow) => new Date(r.createdAt).toISOString(),
    updatedAt: (r: ReturnRow) => new Date(r.updatedAt).toISOString(),
  },
  ReturnLine: {
    product: (l: ReturnLineRow) => ({ __typename: 'Product', id: l.productId }),
  },
};
