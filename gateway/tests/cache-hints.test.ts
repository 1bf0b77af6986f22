/**
 * What the entity cache may keep, decided from the cache hints of our own composed supergraph:
 * public catalog lists and stock levels, never a user's data or anything a subgraph marked
 * PRIVATE, and for how long.
 */
import { parse } from 'graphql';
import { compose } from '@shop/schema/composition';
import { CacheHints } from '../src/cache/cache-hints';

const { supergraphSdl, apiSchema } = compose();
const hints = CacheHints.fromSupergraph(supergraphSdl);
const CAP_MS = 300_000;
const policy = (query: string) => hints.policyOf(parse(query), apiSchema, CAP_MS);
const entities = (selection: string) => `query ($representations: [_Any!]!) { _entities(representations: $representations) { ${selection} } }`;

describe('cache hints of the supergraph', () => {
  it('should cache the catalog listing for the smallest hint it touches', () => {
    expect(policy('{ products(first: 5) { edges { node { __typename id name price { amount } } } } }')).toEqual({ kind: 'root', maxAgeMs: 60_000, fields: ['products'] });
    expect(policy('{ categories { id name slug } }')).toEqual({ kind: 'root', maxAgeMs: 300_000, fields: ['categories'] });
  });

  it('should cache stock levels by entity for their own hint', () => {
    expect(policy(entities('... on Product { inventory { available isLowStock } }'))).toEqual({ kind: 'entities', maxAgeMs: 30_000, fields: ['inventory'] });
    expect(policy(entities('... on Product { name rating reviewCount }'))).toEqual({ kind: 'entities', maxAgeMs: 300_000, fields: ['name', 'rating', 'reviewCount'] });
  });

  it('should allow a reference to a user (its id) under public data, but never the user’s own fields', () => {
    expect(policy('query ($id: ID!) { product(id: $id) { reviews(first: 3) { edges { node { rating author { __typename id } } } } } }')?.kind).toBe('root');
    expect(policy(entities('... on User { username }'))).toBeNull();
    expect(policy(entities('... on User { orders(first: 1) { totalCount } }'))).toBeNull();
    expect(policy('{ me { id email } }')).toBeNull();
  });

  it('should never cache mutations, unhinted root fields, or anything marked PRIVATE', () => {
    expect(policy('mutation { logout }')).toBeNull();
    expect(policy('{ lowStock { productId available } }')).toBeNull();
    const privateHints = CacheHints.fromSupergraph(supergraphSdl.replace('inventory: StockLevel! @join__field(graph: INVENTORY) @cacheControl(maxAge: 30)', 'inventory: StockLevel! @join__field(graph: INVENTORY) @cacheControl(scope: PRIVATE)'));
    expect(privateHints.policyOf(parse(entities('... on Product { inventory { available } }')), apiSchema, CAP_MS)).toBeNull();
  });
});
