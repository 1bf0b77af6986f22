/**
 * The gateway benchmark's workload: the supergraph (composed from schema/ as `npm run compose`
 * does, with the stubs' URLs), the nested query across all four subgraphs, and the unique
 * `Authorization` of every request.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { TOKEN_AUDIENCE, TOKEN_ISSUER } from '@shop/platform';
import { compose, subgraphConfig } from '@shop/schema/composition';

/**
 * 20 products (catalog) with their stock (inventory), 3 reviews each with the author's name (users)
 * and the author's order count (orders): one catalog fetch, then inventory and users in parallel,
 * then orders; 4 subgraph requests per request.
 */
export const BENCH_QUERY = `query StorefrontListing {
  products(first: 20) {
    totalCount
    edges {
      node {
        id
        name
        price { amount currencyCode }
        inventory { available isLowStock }
        reviews(first: 3) {
          edges {
            node {
              id
              rating
              author { id username orders(first: 1) { totalCount } }
            }
          }
        }
      }
    }
  }
}`;

/** The request body every client sends. */
export const BENCH_BODY = JSON.stringify({ query: BENCH_QUERY, operationName: 'StorefrontListing' });

/** Each subgraph's name and SDL, from schema/supergraph.config.json (the files the services run). */
export function subgraphSdls(): Array<{ name: string; sdl: string }> {
  return subgraphConfig().map((s) => ({ name: s.name, sdl: readFileSync(s.file, 'utf8') }));
}

/** Our supergraph, composed from the subgraph SDLs, routing each subgraph to `urls[name]`. */
export function benchSupergraph(urls: Readonly<Record<string, string>>): string {
  return compose(urls).supergraphSdl;
}

/** Checks that a response body is the full answer (20 products with stock, 3 reviews with authors, no error); the reason when not. */
export function answerProblem(body: string): string | null {
  let parsed: { data?: { products?: { edges?: Array<{ node?: { inventory?: unknown; reviews?: { edges?: Array<{ node?: { author?: { orders?: { totalCount?: unknown } } } }> } } }> } }; errors?: unknown };
  try {
    parsed = JSON.parse(body) as typeof parsed;
  } catch {
    return `not JSON: ${body.slice(0, 200)}`;
  }
  if (parsed.errors) return `errors: ${JSON.stringify(parsed.errors).slice(0, 300)}`;
  const edges = parsed.data?.products?.edges ?? [];
  if (edges.length !== 20) return `${edges.length} products, not 20`;
  for (const e of edges) {
    if (!e.node?.inventory) return 'a product without stock';
    const reviews = e.node.reviews?.edges ?? [];
    if (reviews.length !== 3) return `a product with ${reviews.length} reviews, not 3`;
    if (reviews.some((r) => typeof r.node?.author?.orders?.totalCount !== 'number')) return "a review without its author's order count";
  }
  return null;
}

/** How a load generator makes each request's `Authorization`. */
export type AuthorizationKind = 'jwt' | 'opaque' | 'none';

/**
 * Makes a unique `Authorization` per request. `jwt`: a valid HS256 access token of the users
 * service (issuer, audience, subject, roles, a fresh session id, 1 h lifetime), signed with
 * `secret`, so that our gateway verifies it and signs the identity to its subgraphs; `opaque`: a
 * unique bearer string (gateways without our auth ignore it); `none`: no header (anonymous). Signing here rather than with
 * AccessTokenIssuer (jose) keeps the load generator cheap: one HMAC per request, synchronous.
 */
export function authorizationMaker(kind: AuthorizationKind, secret: string): () => string | undefined {
  if (kind === 'none') return () => undefined;
  let n = 0;
  const nonce = process.pid.toString(36);
  if (kind === 'opaque') return () => `Bearer bench-${nonce}-${(n++).toString(36)}`;
  const header = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
  return () => {
    const iat = Math.floor(Date.now() / 1000);
    const payload = Buffer.from(
      JSON.stringify({ roles: ['CUSTOMER'], sid: `bench-${nonce}-${(n++).toString(36)}`, sub: 'u1', iss: TOKEN_ISSUER, aud: TOKEN_AUDIENCE, iat, exp: iat + 3600 }),
    ).toString('base64url');
    const signature = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
    return `Bearer ${header}.${payload}.${signature}`;
  };
}
