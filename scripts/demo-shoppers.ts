/**
 * Demo shoppers (issue 21): a few demo customers with past orders and reviews, so that ratings,
 * reviews, recommendations, bought together and the sales report show data on the first start.
 *
 * Every fact goes through the gateway's public GraphQL API, as a shopper would make it: `register`
 * (users), `placeOrder` with the sandbox card (orders → the saga → inventory, payments, and the
 * events that feed the catalog's bought-together and recommendations and orders' sales report),
 * `addReview` (catalog). No service writes another's data, and nothing here knows a table.
 *
 * Idempotent, step by step, so that a second start adds nothing and an interrupted first start is
 * completed by the next: an e-mail already registered is signed in instead, each order carries a
 * fixed idempotency key (a replay answers the same order), a second review of a product is the
 * catalog's CONFLICT and is taken as done.
 */
import type { Logger } from '@shop/platform';

/** The demo customers' password (development only: the composition root never runs this in production). */
export const DEMO_PASSWORD = 'demo-shopper-2026';

interface DemoCustomer {
  readonly email: string;
  readonly username: string;
  readonly firstName: string;
  readonly country: string;
  /** Past orders: product names (the catalog's demo products) and quantities. */
  readonly orders: ReadonlyArray<ReadonlyArray<readonly [string, number]>>;
  /** Reviews: product name, rating 1..5, comment. */
  readonly reviews: ReadonlyArray<readonly [string, number, string]>;
}

/** Six customers, twelve orders, eighteen reviews; overlapping baskets so that bought together and "customers like you" have something to find. */
export const DEMO_CUSTOMERS: readonly DemoCustomer[] = [
  {
    email: 'ava@demo.shop.local', username: 'ava_demo', firstName: 'Ava', country: 'US',
    orders: [[['Smartphone Pro 128 GB', 1], ['Phone Case Leather', 1]], [['True Wireless Earbuds', 1]]],
    reviews: [['Smartphone Pro 128 GB', 5, 'Fast, great camera, the battery lasts all day.'], ['Phone Case Leather', 4, 'Fits perfectly; the leather darkens nicely.'], ['True Wireless Earbuds', 4, 'Good sound for the price, a snug fit.']],
  },
  {
    email: 'ben@demo.shop.local', username: 'ben_demo', firstName: 'Ben', country: 'CA',
    orders: [[['Budget Smartphone', 1], ['Phone Case Leather', 1]], [['Wireless Noise-Cancelling Headphones', 1], ['True Wireless Earbuds', 1]]],
    reviews: [['Budget Smartphone', 4, 'Does everything I need, and cheap.'], ['Wireless Noise-Cancelling Headphones', 5, 'The noise cancelling is superb on flights.'], ['Phone Case Leather', 3, 'Nice, but a little slippery.']],
  },
  {
    email: 'chloe@demo.shop.local', username: 'chloe_demo', firstName: 'Chloe', country: 'US',
    orders: [[['Ultrabook 14"', 1], ['27" 4K Monitor', 1], ['USB-C Docking Station', 1]], [['Mechanical Keyboard', 1], ['Wireless Mouse', 1]]],
    reviews: [['Ultrabook 14"', 5, 'Light, quiet and quick.'], ['27" 4K Monitor', 4, 'Sharp picture; the stand could be sturdier.'], ['USB-C Docking Station', 4, 'One cable for everything.']],
  },
  {
    email: 'dan@demo.shop.local', username: 'dan_demo', firstName: 'Dan', country: 'US',
    orders: [[['Mechanical Keyboard', 1], ['Wireless Mouse', 1], ['27" 4K Monitor', 1]], [['The Pragmatic Programmer', 1], ['Designing Data-Intensive Applications', 1]]],
    reviews: [['Mechanical Keyboard', 5, 'Lovely tactile switches.'], ['Wireless Mouse', 3, 'Works, but feels light.'], ['Designing Data-Intensive Applications', 5, 'The best book on the subject.']],
  },
  {
    email: 'emma@demo.shop.local', username: 'emma_demo', firstName: 'Emma', country: 'CA',
    orders: [[['Chef Knife 8"', 1], ['Cast Iron Skillet', 1], ['Electric Kettle', 1]], [['Yoga Mat', 1], ['Resistance Bands Set', 1], ['Insulated Water Bottle', 1]]],
    reviews: [['Chef Knife 8"', 5, 'Holds its edge for months.'], ['Cast Iron Skillet', 4, 'Heavy, heats evenly.'], ['Yoga Mat', 4, 'Good grip, no smell.']],
  },
  {
    email: 'finn@demo.shop.local', username: 'finn_demo', firstName: 'Finn', country: 'US',
    orders: [[['Designing Data-Intensive Applications', 1], ['Learning GraphQL', 1], ['Kafka: The Definitive Guide', 1]], [['Hiking Backpack 40 L', 1], ['Headlamp 500 Lumen', 1], ['Insulated Water Bottle', 1]]],
    reviews: [['Learning GraphQL', 4, 'A clear introduction.'], ['Kafka: The Definitive Guide', 4, 'Thorough; a bit dated in places.'], ['Hiking Backpack 40 L', 5, 'Comfortable on long days.']],
  },
];

export interface DemoShopperResult {
  readonly customers: number;
  /** Orders placed (or replayed with their fixed key). */
  readonly orders: number;
  /** Reviews added. */
  readonly reviews: number;
  /** Customers and reviews that were already there (a run that completes an interrupted one). */
  readonly alreadyThere: number;
  /** The last step of a run was already done (a restart): nothing was asked. */
  readonly skipped: boolean;
  readonly ms: number;
}

interface Answer {
  readonly data?: any;
  readonly errors?: ReadonlyArray<{ message: string; extensions?: { code?: string } }>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs the demo shoppers against the gateway at `gatewayUrl`. Retries a step while the shop is
 * still settling (subgraphs not ready yet, orders not yet knowing the catalog's products from the
 * bus) for at most `timeoutMs`.
 */
export async function runDemoShoppers(gatewayUrl: string, logger: Logger, timeoutMs = 60_000): Promise<DemoShopperResult> {
  const started = Date.now();
  const deadline = started + timeoutMs;
  const post = async (query: string, variables: Record<string, unknown>, token?: string): Promise<Answer> => {
    const res = await fetch(gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    return (await res.json()) as Answer;
  };
  /** One call, retried until it answers without error or with one of `accepted` (codes meaning "already done"). */
  const call = async (what: string, query: string, variables: Record<string, unknown>, token?: string, accepted: readonly string[] = []): Promise<Answer> => {
    for (;;) {
      const answer = await post(query, variables, token).catch((err: unknown) => ({ errors: [{ message: String(err) }] }) as Answer);
      const code = answer.errors?.[0]?.extensions?.code;
      if (!answer.errors || (code && accepted.includes(code))) return answer;
      if (Date.now() > deadline) throw new Error(`demo shoppers: ${what}: ${JSON.stringify(answer.errors)}`);
      await sleep(200);
    }
  };

  const names = new Map<string, string>();
  const page = await call('products', '{ products(first: 100) { edges { node { id name } } } }', {});
  for (const e of page.data.products.edges as Array<{ node: { id: string; name: string } }>) names.set(e.node.name, e.node.id);
  const productId = (name: string): string => {
    const id = names.get(name);
    if (!id) throw new Error(`demo shoppers: the demo product "${name}" is not in the catalogue`);
    return id;
  };

  // Done already (a restart)? The last step of a run is the last customer's last review: one read instead of six sign-ins.
  const last = DEMO_CUSTOMERS[DEMO_CUSTOMERS.length - 1]!;
  const [lastProduct] = last.reviews[last.reviews.length - 1]!;
  const authors = await call('reviews', 'query($id: ID!) { product(id: $id) { reviews(first: 100) { edges { node { author { username } } } } } }', { id: productId(lastProduct) });
  if ((authors.data.product?.reviews.edges ?? []).some((e: { node: { author: { username: string } } }) => e.node.author.username === last.username)) {
    const skipped = { customers: DEMO_CUSTOMERS.length, orders: 0, reviews: 0, alreadyThere: 0, skipped: true, ms: Date.now() - started };
    logger.info(skipped, 'demo shoppers: already there, nothing to add');
    return skipped;
  }

  /** Adds a review; false when this customer had already reviewed the product (CONFLICT). */
  const addReview = async ([name, rating, comment]: readonly [string, number, string], token: string): Promise<boolean> =>
    !(await call(`review of ${name}`, 'mutation($p: ID!, $r: Int!, $c: String) { addReview(productId: $p, rating: $r, comment: $c) { id } }', { p: productId(name), r: rating, c: comment }, token, ['CONFLICT'])).errors;

  /** One customer's steps, in order; customers go in parallel (the sign-ups' password hashing is most of the time). */
  const shopAs = async (c: DemoCustomer): Promise<{ orders: number; reviews: number; alreadyThere: number; token: string }> => {
    let orders = 0;
    let reviews = 0;
    let alreadyThere = 0;
    const registered = await call(
      `register ${c.email}`,
      'mutation($input: RegisterInput!) { register(input: $input) { accessToken } }',
      { input: { email: c.email, username: c.username, password: DEMO_PASSWORD, firstName: c.firstName, lastName: 'Demo' } },
      undefined,
      ['CONFLICT'],
    );
    let token: string = registered.data?.register?.accessToken;
    if (!token) {
      alreadyThere++;
      token = (await call(`login ${c.email}`, 'mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }', { e: c.email, p: DEMO_PASSWORD })).data.login.accessToken;
    }
    for (const [i, basket] of c.orders.entries()) {
      await call(
        `order ${i + 1} of ${c.email}`,
        'mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { id } }',
        {
          input: {
            items: basket.map(([name, quantity]) => ({ productId: productId(name), quantity })),
            shippingAddress: { line1: `${i + 1} Demo Street`, city: 'Springfield', postalCode: '12345', country: c.country },
            payment: { token: 'tok_visa' },
            // Fixed: a second start replays the same order instead of placing another.
            idempotencyKey: `demo-shopper-${c.username}-order-${i + 1}`,
          },
        },
        token,
      );
      orders++;
    }
    // The last customer's last review is the run's final step (below), written once every other step is done.
    for (const review of c === last ? c.reviews.slice(0, -1) : c.reviews) {
      if (await addReview(review, token)) reviews++;
      else alreadyThere++;
    }
    logger.debug({ customer: c.username, ms: Date.now() - started }, 'demo shoppers: customer done');
    return { orders, reviews, alreadyThere, token };
  };
  const done = await Promise.all(DEMO_CUSTOMERS.map(shopAs));
  const [orders, reviews, alreadyThere] = (['orders', 'reviews', 'alreadyThere'] as const).map((k) => done.reduce((n, d) => n + d[k], 0)) as [number, number, number];
  const final = await addReview(last.reviews[last.reviews.length - 1]!, done[done.length - 1]!.token);
  const result = { customers: DEMO_CUSTOMERS.length, orders, reviews: reviews + (final ? 1 : 0), alreadyThere: alreadyThere + (final ? 0 : 1), skipped: false, ms: Date.now() - started };
  logger.info(result, 'demo shoppers: customers, past orders and reviews are in');
  return result;
}
