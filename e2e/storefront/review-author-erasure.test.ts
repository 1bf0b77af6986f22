/**
 * The storefront's product page is one public cached answer, review authors' usernames included
 * (users' `User.username` is public by its hint), and an account's erasure outdates it: once the
 * gateway has been delivered `users.account-erased.v1`, no cached page shows the erased author's
 * username, on a gateway with its in-process store (npm start's) nor on one sharing Redis.
 *
 * The account is erased at the users subgraph directly (signed as a gateway would), so that only
 * the event can tell the gateways (a mutation through a gateway outdates everything its service
 * answered at once, which would hide a missing invalidation).
 */
import { randomUUID } from 'node:crypto';
import type { RunningGateway } from '@shop/gateway';
import { eventually, postAsGateway } from '@shop/platform/testing';
import { settledInvalidations, startAnotherGateway } from '../cache/cache-support';
import type { TestShop } from '../support/harness';
import { postGraphQL, startTestShop } from '../support/harness';

const PAGE = 'query Page($id: ID!) { product(id: $id) { id name price { amount } inventory { available } reviews(first: 20) { edges { node { rating comment author { username } } } } } }';

interface Page {
  product: { reviews: { edges: Array<{ node: { rating: number; comment: string | null; author: { username: string } } }> } };
}

/**
 * Per cache consumer group (`gateway.cache.<id>`) this gateway's metrics show, the user events it
 * handled: delivery itself, whether or not the gateway marks anything for them.
 */
async function userEventsHandled(gatewayUrl: string): Promise<Map<string, number>> {
  const text = await (await fetch(gatewayUrl.replace(/\/graphql$/, '/metrics'))).text();
  const counts = new Map<string, number>();
  for (const line of text.split('\n')) {
    const group = /^events_consumed_total\{service="(gateway\.cache\.[^"]+)".*topic="users\.user".*outcome="handled"\} (\d+)/.exec(line);
    if (group) counts.set(group[1]!, Number(group[2]));
  }
  return counts;
}

/** Whole answers this gateway served from its cache (its lookups counter). */
async function responseHits(gatewayUrl: string): Promise<number> {
  const text = await (await fetch(gatewayUrl.replace(/\/graphql$/, '/metrics'))).text();
  const line = text.split('\n').find((l) => l.startsWith('gateway_cache_lookups_total') && l.includes('type="Response"') && l.includes('result="hit"'));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('a cached product page and its review author’s erasure', () => {
  let shop: TestShop;
  let shared: RunningGateway;

  beforeAll(async () => {
    shop = await startTestShop({ bus: 'in-process', seed: true });
    shared = await startAnotherGateway(shop);
  }, 180_000);
  afterAll(async () => {
    await shared?.stop();
    await shop?.stop();
  });

  it('should never show the erased author’s username once the erasure event is delivered', async () => {
    const username = `author${randomUUID().slice(0, 8)}`;
    const password = 'correct horse battery staple';
    const registered = await shop.gql<{ register: { accessToken: string; user: { id: string } } }>('mutation ($input: RegisterInput!) { register(input: $input) { accessToken user { id } } }', {
      input: { email: `${username}@example.com`, username, password },
    });
    expect(registered.errors).toBeUndefined();
    const { accessToken, user } = registered.data!.register;
    const list = await shop.gql<{ products: { edges: Array<{ node: { id: string } }> } }>('{ products(first: 3) { edges { node { id } } } }');
    const productId = list.data!.products.edges[2]!.node.id;
    const comment = `Erasure test ${randomUUID()}`;
    expect((await shop.gql('mutation ($id: ID!, $c: String) { addReview(productId: $id, rating: 5, comment: $c) { id } }', { id: productId, c: comment }, accessToken)).errors).toBeUndefined();

    const gateways = [shop.url, shared.url];
    const authorOf = async (url: string): Promise<string | undefined> => {
      const res = await postGraphQL<Page>(url, PAGE, { id: productId });
      expect(res.errors).toBeUndefined();
      return res.data!.product.reviews.edges.find((e) => e.node.comment === comment)?.node.author.username;
    };
    // The review's own event first (it outdates the product's page): then the page is cached whole.
    for (const url of gateways) await settledInvalidations(url);
    const before = await Promise.all(gateways.map(userEventsHandled));
    for (const url of gateways) {
      expect(await authorOf(url)).toBe(username);
      const hits = await responseHits(url);
      expect(await authorOf(url)).toBe(username);
      expect(await responseHits(url)).toBe(hits + 1);
    }

    // Erased at the users subgraph: only the event reaches the gateways.
    const erased = await postAsGateway(shop.supergraph.services.users.url, {
      secret: shop.internalAuthSecret,
      audience: 'users',
      query: 'mutation ($p: String!) { deleteMyAccount(password: $p) }',
      variables: { p: password },
      identity: { userId: user.id, roles: ['CUSTOMER'], sessionId: randomUUID(), exp: Math.floor(Date.now() / 1000) + 300 },
    });
    expect(erased.errors).toBeUndefined();
    expect(erased.data).toEqual({ deleteMyAccount: true });

    for (const [i, url] of gateways.entries()) {
      // Delivered: every cache consumer group this gateway shows has handled one more user event.
      expect(before[i]!.size).toBeGreaterThan(0);
      await eventually(async () => {
        const now = await userEventsHandled(url);
        return [...before[i]!].every(([group, count]) => (now.get(group) ?? 0) > count);
      }, 30_000, 20);
      // From the moment the event is handled: the review stays, by a deleted user, on every read.
      for (let read = 0; read < 3; read++) expect(await authorOf(url)).toBe('deleted user');
    }
  });
});
