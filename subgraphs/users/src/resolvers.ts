import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/resolverMap';
import type { UsersContext } from './context';
import type { UserRow } from './persistence/entities';

export const resolvers: GraphQLResolverMap<UsersContext> = {
  Query: {
    me: (_: unknown, __: unknown, ctx: UsersContext) => (ctx.identity ? ctx.loaders.user.load(ctx.identity.userId) : null),
  },
  User: {
    __resolveReference: (ref: { id: string }, ctx: UsersContext) => ctx.loaders.user.load(ref.id),
    addresses: () => [],
    phone: () => null,
    createdAt: (u: UserRow) => u.createdAt,
  },
};
