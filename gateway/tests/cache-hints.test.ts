/**
 * What the entity cache may keep, decided from the cache hints of our own composed supergraph:
 * public catalog lists and stock levels, the public fields of a review's author, never a user's
 * own data (`me`, e-mails, orders) or anything a subgraph marked PRIVATE, and for how long.
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
    expect(policy('{ products(first: 5) { edges { node { __typename id name price { amount } } } } }')).toMatchObject({ kind: 'root', maxAgeMs: 60_000, fields: ['products'] });
    expect(policy('{ categories { id name slug } }')).toMatchObject({ kind: 'root', maxAgeMs: 300_000, fields: ['categories'] });
  });

  it('should cache stock levels by entity for their own hint', () => {
    expect(policy(entities('... on Product { inventory { available isLowStock } }'))).toMatchObject({ kind: 'entities', maxAgeMs: 30_000, fields: ['inventory'] });
    expect(policy(entities('... on Product { name rating reviewCount }'))).toMatchObject({ kind: 'entities', maxAgeMs: 300_000, fields: ['name', 'rating', 'reviewCount'] });
  });

  it('should send every entity object with its __typename and id (its cache tags), and tell lists and lookups apart', () => {
    const list = hints.policyOf(parse('{ products(first: 5) { edges { node { name price { amount } } } } }'), apiSchema, CAP_MS, 'catalog');
    expect(list?.query.replace(/\s+/g, ' ')).toBe('{ products(first: 5) { edges { node { name price { amount } __typename id } } } }');
    expect(list).toMatchObject({ lists: true, lookups: new Set() });
    const lookup = hints.policyOf(parse('query ($id: ID!) { product(id: $id) { name } }'), apiSchema, CAP_MS, 'catalog');
    expect(lookup?.query.replace(/\s+/g, ' ')).toBe('query ($id: ID!) { product(id: $id) { name __typename id } }');
    expect(lookup).toMatchObject({ lists: false, lookups: new Set(['product']) });
    const stock = hints.policyOf(parse(entities('... on Product { inventory { available } }')), apiSchema, CAP_MS, 'inventory');
    expect(stock).toMatchObject({ lists: false, lookups: new Set() });
    expect(stock?.query).not.toContain('__typename');
    // An alias that takes `id` for something else: not cacheable (the tags could not be read).
    expect(hints.policyOf(parse('query ($id: ID!) { product(id: $id) { id: name } }'), apiSchema, CAP_MS, 'catalog')).toBeNull();
  });

  it('should allow a reference to a user under public data, and only the user’s public fields (id, username, createdAt)', () => {
    expect(policy('query ($id: ID!) { product(id: $id) { reviews(first: 3) { edges { node { rating author { __typename id } } } } } }')?.kind).toBe('root');
    expect(policy(entities('... on User { username }'))).toMatchObject({ kind: 'entities', maxAgeMs: 300_000, fields: ['username'] });
    expect(policy(entities('... on User { id username createdAt }'))).toMatchObject({ kind: 'entities', maxAgeMs: 300_000 });
    for (const field of ['email', 'firstName', 'phone', 'roles', 'emailVerified', 'addresses { city }', 'orders(first: 1) { totalCount }', 'recommendedProducts { id }']) {
      expect(policy(entities(`... on User { username ${field} }`))).toBeNull();
    }
    // The product page of the storefront, review authors' usernames included: one public answer.
    const page = 'query ($id: ID!) { product(id: $id) { id name price { amount } inventory { available } reviews(first: 3) { edges { node { rating comment author { username } } } } similar(first: 4) { id name } } }';
    expect(policy(page)).toMatchObject({ kind: 'root', maxAgeMs: 30_000 });
    expect(policy(page.replace('author { username }', 'author { username email }'))).toBeNull();
  });

  it('should never cache `me` or any user looked up at the root, even with only public fields selected', () => {
    for (const query of ['{ me { id } }', '{ me { id username createdAt } }', '{ me { id email } }', 'query ($id: ID!) { user(id: $id) { username } }', '{ __typename me { id } }']) expect(policy(query)).toBeNull();
    // Without users' PRIVATE hints the root rule alone refuses them: a root field needs a hint of its own.
    const unmarkedSdl = supergraphSdl.replace(/(me: User @join__field\(graph: USERS\)) @cacheControl\(scope: PRIVATE\)/, '$1');
    expect(unmarkedSdl).not.toBe(supergraphSdl);
    const unmarked = CacheHints.fromSupergraph(unmarkedSdl);
    expect(unmarked.policyOf(parse('{ me { id username } }'), apiSchema, CAP_MS)).toBeNull();
    expect(unmarked.policyOf(parse('{ products(first: 2) { edges { node { id } } } }'), apiSchema, CAP_MS)).not.toBeNull();
    // A fragment at the root: not cacheable (its fields' hints are not looked at).
    expect(policy('{ ... on Query { products(first: 2) { edges { node { id } } } } }')).toBeNull();
  });

  it('should never cache mutations, unhinted root fields, or anything marked PRIVATE', () => {
    expect(policy('mutation { logout }')).toBeNull();
    expect(policy('{ lowStock { productId available } }')).toBeNull();
    const privateHints = CacheHints.fromSupergraph(supergraphSdl.replace('inventory: StockLevel! @join__field(graph: INVENTORY) @cacheControl(maxAge: 30)', 'inventory: StockLevel! @join__field(graph: INVENTORY) @cacheControl(scope: PRIVATE)'));
    expect(privateHints.policyOf(parse(entities('... on Product { inventory { available } }')), apiSchema, CAP_MS)).toBeNull();
  });
});
