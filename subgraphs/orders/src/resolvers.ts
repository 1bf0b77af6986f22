import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/resolverMap';
import type { RequestContext } from '@shop/platform';

const emptyConnection = { edges: [], pageInfo: { hasNextPage: false, endCursor: null }, totalCount: 0 };

export const resolvers: GraphQLResolverMap<RequestContext> = {
  Query: {
    order: () => null,
    orders: () => emptyConnection,
  },
  User: {
    orders: () => emptyConnection,
  },
};
