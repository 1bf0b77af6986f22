import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/resolverMap';
import { badUserInput, requireAdmin } from '@shop/platform';
import type { InventoryContext } from './context';
import { MAX_REASON_LENGTH, MAX_STOCK } from './domain/adjustment';
import { isProductId } from './domain/reservation';
import type { StockLevel } from './domain/stock-level';
import { emptyStockLevel, toStockLevel } from './domain/stock-level';
import type { AdjustmentRow } from './persistence/entities';

/** Most adjustments one `inventoryAdjustments` call answers. */
const MAX_ADJUSTMENTS_PAGE = 100;

/** A product id argument: a UUID, else BAD_USER_INPUT naming the field. */
function productIdArg(id: string, field = 'productId'): string {
  if (!isProductId(id)) throw badUserInput(field, `"${id.slice(0, 60)}" is not a product id.`);
  return id.toLowerCase();
}

// Thin: auth and argument checks here, everything else in InventoryService. The Subscription
// fields of the SDL are served by the subscriptions layer, not by this map.
export const resolvers: GraphQLResolverMap<InventoryContext> = {
  Query: {
    lowStock: (_: unknown, __: unknown, ctx: InventoryContext) => {
      requireAdmin(ctx);
      return ctx.inventory.lowStock();
    },
    inventoryAdjustments: (_: unknown, args: { productId: string; first: number }, ctx: InventoryContext) => {
      requireAdmin(ctx);
      if (args.first < 0 || args.first > MAX_ADJUSTMENTS_PAGE) throw badUserInput('first', `first must be between 0 and ${MAX_ADJUSTMENTS_PAGE}.`);
      return ctx.inventory.adjustments(productIdArg(args.productId), args.first);
    },
  },
  Mutation: {
    adjustInventory: (_: unknown, args: { productId: string; delta: number; reason: string }, ctx: InventoryContext) => {
      const admin = requireAdmin(ctx);
      const productId = productIdArg(args.productId);
      if (args.delta === 0) throw badUserInput('delta', 'delta must not be 0.');
      const reason = args.reason.trim();
      if (reason.length === 0) throw badUserInput('reason', 'Say why the stock changes (e.g. "stock count", "damaged").');
      if (reason.length > MAX_REASON_LENGTH) throw badUserInput('reason', `reason must be at most ${MAX_REASON_LENGTH} characters.`);
      return ctx.inventory.adjust(admin.userId, productId, args.delta, reason);
    },
    setLowStockThreshold: (_: unknown, args: { productId: string; threshold: number }, ctx: InventoryContext) => {
      requireAdmin(ctx);
      const productId = productIdArg(args.productId);
      if (args.threshold < 0) throw badUserInput('threshold', 'threshold must be 0 or more.');
      if (args.threshold > MAX_STOCK) throw badUserInput('threshold', `threshold must be at most ${MAX_STOCK}.`);
      return ctx.inventory.setLowStockThreshold(productId, args.threshold);
    },
  },
  Product: {
    inventory: async (product: { id: string }, _: unknown, ctx: InventoryContext) => {
      const row = await ctx.loaders.stock.load(product.id);
      return row ? toStockLevel(row) : emptyStockLevel(product.id);
    },
  },
  StockLevel: {
    product: (level: StockLevel) => ({ __typename: 'Product', id: level.productId }),
    updatedAt: (level: StockLevel) => level.updatedAt.toISOString(),
  },
  InventoryAdjustment: {
    actor: (a: AdjustmentRow) => ({ __typename: 'User', id: a.actorId }),
    createdAt: (a: AdjustmentRow) => a.createdAt.toISOString(),
  },
};
