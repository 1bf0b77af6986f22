import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/resolverMap';
import type { InventoryContext } from './context';
import type { StockLevel } from './domain/stock-level';
import { emptyStockLevel, toStockLevel } from './domain/stock-level';

export const resolvers: GraphQLResolverMap<InventoryContext> = {
  Product: {
    inventory: async (product: { id: string }, _: unknown, ctx: InventoryContext) => {
      const row = await ctx.loaders.stock.load(product.id);
      return row ? toStockLevel(row) : emptyStockLevel(product.id);
    },
  },
  StockLevel: {
    product: (level: StockLevel) => ({ __typename: 'Product', id: level.productId }),
  },
};
