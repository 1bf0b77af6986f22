import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/resolverMap';
import { badUserInput } from '@shop/platform';
import type { CatalogContext } from './context';
import type { CategoryRow, ProductRow } from './persistence/entities';

const MAX_PAGE = 100;

function decodeCursor(after: string | null | undefined): { createdAt: string; id: string } | null {
  if (!after) return null;
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(after, 'base64url').toString('utf8')) as [string, string];
    if (typeof createdAt !== 'string' || typeof id !== 'string') throw new Error();
    return { createdAt, id };
  } catch {
    throw badUserInput('after', 'Invalid cursor.');
  }
}

function encodeCursor(p: ProductRow): string {
  return Buffer.from(JSON.stringify([p.createdAt.toISOString(), p.id])).toString('base64url');
}

export const resolvers: GraphQLResolverMap<CatalogContext> = {
  Query: {
    product: (_: unknown, { id }: { id: string }, ctx: CatalogContext) => ctx.loaders.product.load(id).then((p) => (p && !p.deletedAt ? p : null)),
    products: async (_: unknown, args: { first: number; after?: string | null }, ctx: CatalogContext) => {
      if (args.first < 0 || args.first > MAX_PAGE) throw badUserInput('first', `first must be between 0 and ${MAX_PAGE}.`);
      const { rows, total } = await ctx.repo.pageProducts(args.first + 1, decodeCursor(args.after));
      const page = rows.slice(0, args.first);
      for (const p of page) ctx.loaders.product.prime(p.id, p);
      return {
        edges: page.map((node) => ({ cursor: encodeCursor(node), node })),
        pageInfo: { hasNextPage: rows.length > args.first, endCursor: page.length ? encodeCursor(page[page.length - 1]!) : null },
        totalCount: total,
      };
    },
    categories: (_: unknown, __: unknown, ctx: CatalogContext) => ctx.repo.allCategories(),
  },
  Product: {
    __resolveReference: (ref: { id: string }, ctx: CatalogContext) => ctx.loaders.product.load(ref.id),
    price: (p: ProductRow) => ({ amount: p.price, currencyCode: p.currencyCode.trim() }),
    category: (p: ProductRow, _: unknown, ctx: CatalogContext) => ctx.loaders.category.load(p.categoryId),
    rating: (p: ProductRow) => (p.reviewCount > 0 ? Math.round((p.ratingSum / p.reviewCount) * 100) / 100 : null),
    reviews: () => ({ edges: [], pageInfo: { hasNextPage: false, endCursor: null }, totalCount: 0 }),
    similar: () => [],
  },
  Category: {
    __resolveReference: (ref: { id: string }, ctx: CatalogContext) => ctx.loaders.category.load(ref.id),
    parent: (c: CategoryRow, _: unknown, ctx: CatalogContext) => (c.parentId ? ctx.loaders.category.load(c.parentId) : null),
    products: () => ({ edges: [], pageInfo: { hasNextPage: false, endCursor: null }, totalCount: 0 }),
  },
};
