import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/resolverMap';
import { requireAdmin, requireUser } from '@shop/platform';
import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';
import type { CatalogContext } from './context';
import type { Connection, PageArgs, ProductsArgs } from './catalog.service';
import type { CreateProductInput, UpdateProductInput } from './domain/product-rules';
import { averageRating } from './domain/rating';
import type { Category, Product, Review } from './domain/types';
import { absoluteImageUrl } from './images';
import { tracked } from './metrics';

/**
 * Decimal: a string on the wire. Inputs pass through as given (string, or a JSON number) and are
 * validated by the resolver that knows the field's name, so errors say `input.price` rather than
 * "Variable $input got an invalid value".
 */
const Decimal = new GraphQLScalarType({
  name: 'Decimal',
  description: 'A decimal number serialised as a string, e.g. "29.99".',
  serialize: (value) => String(value),
  parseValue: (value) => value,
  parseLiteral: (ast) => {
    if (ast.kind === Kind.STRING || ast.kind === Kind.INT || ast.kind === Kind.FLOAT) return ast.value;
    throw new GraphQLError('A Decimal is written as a string such as "29.99".', { extensions: { code: 'BAD_USER_INPUT' } });
  },
});

const DateTime = new GraphQLScalarType({
  name: 'DateTime',
  description: 'ISO-8601 date-time string, UTC.',
  serialize: (value) => (value instanceof Date ? value.toISOString() : String(value)),
  parseValue: (value) => value,
});

/** Thin: authorisation, then the service. Every root field counts its failures (catalog_query_errors_total). */
export const resolvers: GraphQLResolverMap<CatalogContext> = {
  Decimal,
  DateTime,
  Query: {
    product: (_: unknown, { id }: { id: string }, ctx: CatalogContext) => tracked('product', () => ctx.catalog.product(id)),
    products: (_: unknown, args: ProductsArgs, ctx: CatalogContext) => tracked('products', () => ctx.catalog.products(args)),
    categories: (_: unknown, __: unknown, ctx: CatalogContext) => tracked('categories', () => ctx.catalog.categories()),
    category: (_: unknown, { slug }: { slug: string }, ctx: CatalogContext) => tracked('category', () => ctx.catalog.categoryBySlug(slug)),
    searchSuggestions: (_: unknown, { prefix, first }: { prefix: string; first?: number | null }, ctx: CatalogContext) =>
      tracked('searchSuggestions', () => ctx.discover.suggestions(prefix, first)),
  },
  Mutation: {
    createCategory: (_: unknown, { input }: { input: { name: string; parentId?: string | null } }, ctx: CatalogContext) =>
      tracked('createCategory', () => {
        requireAdmin(ctx);
        return ctx.catalog.createCategory(input);
      }),
    createProduct: (_: unknown, { input }: { input: CreateProductInput }, ctx: CatalogContext) =>
      tracked('createProduct', () => {
        requireAdmin(ctx);
        return ctx.catalog.createProduct(input);
      }),
    updateProduct: (_: unknown, { id, input }: { id: string; input: UpdateProductInput }, ctx: CatalogContext) =>
      tracked('updateProduct', () => {
        requireAdmin(ctx);
        return ctx.catalog.updateProduct(id, input);
      }),
    deleteProduct: (_: unknown, { id }: { id: string }, ctx: CatalogContext) =>
      tracked('deleteProduct', () => {
        requireAdmin(ctx);
        return ctx.catalog.deleteProduct(id);
      }),
    addReview: (_: unknown, args: { productId: string; rating: number; comment?: string | null }, ctx: CatalogContext) =>
      tracked('addReview', () => ctx.catalog.addReview(requireUser(ctx).userId, args)),
  },
  Product: {
    // Deleted products still resolve by reference: past orders show them.
    __resolveReference: (ref: { id: string }, ctx: CatalogContext) => ctx.loaders.product.load(ref.id),
    category: async (p: Product, _: unknown, ctx: CatalogContext) => {
      const category = await ctx.loaders.category.load(p.categoryId);
      if (!category) throw new Error(`category ${p.categoryId} of product ${p.id} is missing`); // the foreign key forbids it
      return category;
    },
    rating: (p: Product) => averageRating(p.ratingSum, p.reviewCount),
    imageUrls: (p: Product, _: unknown, ctx: CatalogContext) => p.imageUrls.map((u) => absoluteImageUrl(u, ctx.images.publicBase ?? ctx.images.observedBase)),
    reviews: (p: Product, args: PageArgs, ctx: CatalogContext) => tracked('Product.reviews', () => ctx.catalog.reviews(p, args)),
    similar: (p: Product, { first }: { first?: number | null }, ctx: CatalogContext) => tracked('Product.similar', () => ctx.catalog.similar(p, first)),
    frequentlyBoughtTogether: (p: Product, { first }: { first?: number | null }, ctx: CatalogContext) =>
      tracked('Product.frequentlyBoughtTogether', () => ctx.discover.boughtTogether(p, first)),
  },
  ProductConnection: {
    facets: (c: Connection<Product>, _: unknown, ctx: CatalogContext) =>
      tracked('ProductConnection.facets', async () => {
        const facets = await c.facets!();
        for (const { category } of facets.categories) ctx.loaders.category.prime(category.id, category);
        return facets;
      }),
  },
  User: {
    __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
    recommendedProducts: (u: { id: string }, { first }: { first?: number | null }, ctx: CatalogContext) =>
      tracked('User.recommendedProducts', () => ctx.discover.recommended(ctx, u.id, first)),
  },
  Review: {
    // The users subgraph resolves the rest of the author.
    author: (r: Review) => ({ __typename: 'User', id: r.authorId }),
  },
  Category: {
    __resolveReference: (ref: { id: string }, ctx: CatalogContext) => ctx.loaders.category.load(ref.id),
    parent: (c: Category, _: unknown, ctx: CatalogContext) => (c.parentId ? ctx.loaders.category.load(c.parentId) : null),
    children: (c: Category, _: unknown, ctx: CatalogContext) => ctx.loaders.children.load(c.id),
    products: (c: Category, args: PageArgs, ctx: CatalogContext) => tracked('Category.products', () => ctx.catalog.categoryProducts(c, args)),
  },
};
