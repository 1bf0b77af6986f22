/** Issue 19: the admin review of orders a fraud rule held, and `Order.fraudReview`. */
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/resolverMap';
import { isAdmin, requireUser } from '@shop/platform';
import type { OrdersContext } from '../context';
import type { OrderRow } from '../persistence/entities';
import type { FraudReviewRow } from './fraud-checks';

export const fraudResolvers: GraphQLResolverMap<OrdersContext> = {
  Mutation: {
    releaseHeldOrder: (_: unknown, { id }: { id: string }, ctx: OrdersContext) => ctx.orders.fraud.release(requireUser(ctx), id),
    rejectHeldOrder: (_: unknown, a: { id: string; reason?: string | null }, ctx: OrdersContext) => ctx.orders.fraud.reject(requireUser(ctx), a.id, a.reason),
  },
  Order: {
    // Admins only: the rules' numbers are not for customers (a held order just shows HELD_FOR_REVIEW).
    fraudReview: (o: OrderRow, _: unknown, ctx: OrdersContext) => (isAdmin(ctx.identity) ? ctx.returnLoaders.fraudReview.load(o.id) : null),
  },
  FraudReview: {
    reviewedBy: (r: FraudReviewRow) => (r.reviewedBy ? { __typename: 'User', id: r.reviewedBy } : null),
    createdAt: (r: FraudReviewRow) => new Date(r.createdAt).toISOString(),
    updatedAt: (r: FraudReviewRow) => new Date(r.updatedAt).toISOString(),
  },
};
