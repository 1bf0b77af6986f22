import type { TestShop } from '../support/harness';

export interface ProductNode {
  id: string;
  name: string;
  price: { amount: string; currencyCode: string };
  rating: number | null;
  reviewCount: number;
  createdAt: string;
  category: { slug: string };
}

export const PRODUCT_FIELDS = 'id name price { amount currencyCode } rating reviewCount createdAt category { slug }';

const PRODUCTS_QUERY = `query ($filter: ProductFilter, $sort: ProductSort, $first: Int, $after: String) {
  products(filter: $filter, sort: $sort, first: $first, after: $after) {
    totalCount
    edges { cursor node { ${PRODUCT_FIELDS} } }
    pageInfo { hasNextPage endCursor }
  }
}`;

/** One page of `products`; throws on GraphQL errors. */
export async function productsPage(shop: TestShop, variables: Record<string, unknown>): Promise<{ totalCount: number; nodes: ProductNode[]; hasNextPage: boolean; endCursor: string | null }> {
  const res = await shop.gql(PRODUCTS_QUERY, variables);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  const c = res.data.products;
  return { totalCount: c.totalCount, nodes: c.edges.map((e: { node: ProductNode }) => e.node), hasNextPage: c.pageInfo.hasNextPage, endCursor: c.pageInfo.endCursor };
}

/** Every page of a products query, `first` at a time, in order. */
export async function allProducts(shop: TestShop, variables: { filter?: Record<string, unknown>; sort?: string; first: number }): Promise<ProductNode[]> {
  const nodes: ProductNode[] = [];
  let after: string | null = null;
  for (let i = 0; i < 1000; i++) {
    const page = await productsPage(shop, { ...variables, after });
    nodes.push(...page.nodes);
    if (!page.hasNextPage) return nodes;
    after = page.endCursor;
  }
  throw new Error('too many pages');
}

/** "29.99" -> 2999: exact comparisons of prices in tests. */
export function cents(amount: string): number {
  const [i = '0', f = ''] = amount.split('.');
  return Number(i) * 100 + Number(f.padEnd(2, '0').slice(0, 2));
}
