/**
 * A bounded, seeded shopper mix against a running shop (`npm start`, or a test shop): what fills
 * every dashboard panel. Open loop: operations start at `rate` per second (at most `maxInFlight`
 * at once; beyond it an operation is counted as `dropped`, never queued), for `durationSeconds`,
 * then the run waits for what is in flight and ends. The same seed gives the same sequence of
 * operations and inputs.
 *
 * The mix: browsing, searches (some that find nothing), product pages, sign-ins (some with a
 * wrong password), checkouts through `placeOrder`, or through a cart and `checkout` when the
 * schema has them (detected by introspection), a small share of declined payments, bad inputs
 * (expected to fail with BAD_USER_INPUT), a few admin stock adjustments (with admin credentials),
 * and stock subscriptions held open over graphql-ws for the whole run.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { Client } from 'graphql-ws';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

export interface LoadOptions {
  /** The gateway's GraphQL endpoint. */
  readonly url: string;
  /** Operations started per second. */
  readonly rate: number;
  readonly durationSeconds: number;
  readonly seed: number;
  /** Admin credentials (or an admin's access token) for the stock adjustments (skipped without them). */
  readonly admin?: { readonly email: string; readonly password: string } | { readonly token: string } | undefined;
  /** Stock subscriptions held open. Default 3. */
  readonly subscriptions?: number;
  /** Operations in flight at most. Default 64. */
  readonly maxInFlight?: number;
  /**
   * Which mix: `shopper` (default: the one above) or `storefront`, the issue-16 storefront reads
   * (listing with stock 35 %, filtered search 25 %, product detail with reviews and similar 25 %,
   * `me` with orders 15 %, signed in) with no writes.
   */
  readonly mix?: 'shopper' | 'storefront';
  /** Only these kinds of the mix (their weights kept), e.g. `['me with orders']`: one operation's cost alone. */
  readonly only?: readonly string[];
  /** Called about once a second (the progress line). */
  readonly onProgress?: (progress: LoadProgress) => void;
}

export interface LoadProgress {
  readonly elapsedSeconds: number;
  readonly started: number;
  readonly completed: number;
  readonly errors: number;
  /** Operations per second completed over the last second. */
  readonly rate: number;
  readonly p95Ms: number;
  readonly subscriptionEvents: number;
}

export interface KindSummary {
  readonly kind: string;
  readonly count: number;
  /** Answers that were not what the operation expects (a bad input that succeeded is one too). */
  readonly errors: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
}

export interface LoadSummary {
  readonly seconds: number;
  readonly started: number;
  readonly completed: number;
  readonly dropped: number;
  readonly errors: number;
  readonly kinds: readonly KindSummary[];
  readonly subscriptionEvents: number;
  /** How orders were placed: `placeOrder`, or `cart+checkout` when the schema has carts. */
  readonly checkoutPath: string;
  /** The first two unexpected answers of each kind, for a person to read. */
  readonly errorSamples: readonly string[];
  readonly skipped: readonly string[];
}

/** mulberry32: a small seeded generator (the same seed, the same run). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Answer {
  readonly data?: any;
  readonly errors?: ReadonlyArray<{ message: string; extensions?: { code?: string } }>;
}

/**
 * Where a virtual user's requests come from: its own loopback address (127.0.0.0/8 is all the
 * loopback interface on Linux), so the shop's per-address limits (registrations, failed logins)
 * see one shopper per address, as they would on the internet, instead of the whole run as one
 * client. Keep-alive, one agent per user.
 */
function agentFrom(localAddress: string | undefined): http.Agent {
  return new http.Agent({ keepAlive: true, ...(localAddress ? { localAddress } : {}) });
}

async function gql(url: string, query: string, variables?: Record<string, unknown>, token?: string, agent?: http.Agent): Promise<Answer> {
  const body = JSON.stringify({ query, variables });
  const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...(token ? { authorization: `Bearer ${token}` } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
  try {
    return JSON.parse(text) as Answer;
  } catch {
    return { errors: [{ message: `HTTP ${status}: ${text.slice(0, 120)}` }] };
  }
}

/** An operation of the mix: runs, and answers whether the answer was the expected one. */
type Operation = () => Promise<{ ok: boolean; detail?: string }>;

const SEARCHES = ['shirt', 'mug', 'lamp', 'sock', 'book', 'chair', 'headphones', 'bottle', 'zzqxv', 'nothing-like-this'];
const ADDRESS = { line1: '1 Main St', city: 'Springfield', postalCode: '12345', country: 'US' };

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export async function runLoad(options: LoadOptions): Promise<LoadSummary> {
  const random = seededRandom(options.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const { url } = options;
  const skipped: string[] = [];

  // What the schema offers: carts and checkout are newer than placeOrder.
  const schema = await gql(url, '{ __schema { mutationType { fields { name } } } }');
  const mutations = new Set<string>((schema.data?.__schema?.mutationType?.fields ?? []).map((f: { name: string }) => f.name));
  if (!mutations.has('placeOrder') && !mutations.has('checkout')) throw new Error(`${url} has no placeOrder nor checkout mutation: is it the shop's gateway?`);
  const carts = mutations.has('checkout') && mutations.has('addToCart');

  const listed = await gql(url, '{ products(first: 50) { edges { node { id inventory { available } } } } }');
  const products: Array<{ id: string; available: number }> = (listed.data?.products?.edges ?? []).map((e: any) => ({ id: e.node.id, available: e.node.inventory?.available ?? 0 }));
  if (products.length === 0) throw new Error(`${url} lists no products (start the shop with its demo data: SEED_DEMO_DATA=true)`);
  const inStock = products.filter((p) => p.available > 0);

  // Virtual customers, each with its own loopback address (see agentFrom), leased by one operation
  // at a time: a checkout fills and checks out its own cart, as a real shopper does. With a few
  // shared customers (before) concurrent checkouts queued on the same cart's row lock (holding
  // orders' connections), checked out each other's carts and tripped the login limits: the run
  // measured its own contention. As many as operations can be in flight, so one is always free.
  // Seeded names are fresh per run (the same seed twice must not collide).
  const run = randomUUID().slice(0, 6);
  const password = 'load test password 1';
  const maxInFlight = options.maxInFlight ?? 64;
  const loopback = /^http:\/\/127\./.test(url) ? (i: number) => `127.${77 + (parseInt(run.slice(0, 2), 16) % 100)}.${1 + (parseInt(run.slice(2, 4), 16) % 250)}.${1 + i}` : () => undefined;
  type Customer = { email: string; token: string; agent: http.Agent };
  const register = async (i: number, label: string): Promise<Customer | undefined> => {
    const email = `load-${run}-${label}${i}@example.com`;
    const agent = agentFrom(loopback(label === 'g' ? 200 + i : i));
    const r = await gql(url, 'mutation R($input: RegisterInput!) { register(input: $input) { accessToken } }', { input: { email, username: `load${run}${label}${i}`, password } }, undefined, agent);
    const token = r.data?.register?.accessToken;
    return typeof token === 'string' ? { email, token, agent } : undefined;
  };
  const registerMany = async (count: number, label: string): Promise<Customer[]> => {
    const out: Customer[] = [];
    for (let i = 0; i < count; i += 4) out.push(...(await Promise.all(Array.from({ length: Math.min(4, count - i) }, (_, j) => register(i + j, label)))).filter((c): c is Customer => !!c));
    return out;
  };
  const customers = await registerMany(Math.min(maxInFlight, 199), 'c');
  // Wrong passwords go to accounts of their own (addresses 127.x.y.201-202): the shop pauses a guessed account (RATE_LIMITED),
  // which must not lock out the shoppers.
  const guessed = await registerMany(2, 'g');
  const idle = [...customers];
  /** Runs `fn` as a customer nobody else is using now (back in the pool after). */
  const asCustomer = async <T>(fn: (c: Customer) => Promise<T>): Promise<T> => {
    const c = idle.shift() ?? pick(customers);
    try {
      return await fn(c);
    } finally {
      idle.push(c);
    }
  };
  if (customers.length === 0) skipped.push('checkouts and sign-ins (registration failed)');
  let adminToken: string | undefined;
  if (options.admin && 'token' in options.admin) adminToken = options.admin.token;
  else if (options.admin) {
    const r = await gql(url, 'mutation L($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }', { e: options.admin.email, p: options.admin.password });
    adminToken = r.data?.login?.accessToken;
    if (!adminToken) skipped.push(`admin adjustments (sign-in as ${options.admin.email} failed)`);
  } else skipped.push('admin adjustments (no ADMIN_PASSWORD given)');

  const expectOk = (r: Answer): { ok: boolean; detail?: string } => (r.errors?.length ? { ok: false, detail: JSON.stringify(r.errors[0]).slice(0, 200) } : { ok: true });
  const expectCode = (...codes: string[]) => (r: Answer): { ok: boolean; detail?: string } => (r.errors?.some((e) => codes.includes(e.extensions?.code ?? '')) ? { ok: true } : { ok: false, detail: `expected ${codes.join(' or ')}, got ${JSON.stringify(r).slice(0, 200)}` });

  const placeOrder = (card: string): Promise<Answer> => asCustomer((customer) => placeOrderAs(customer, card));
  const placeOrderAs = async (customer: Customer, card: string): Promise<Answer> => {
    const product = pick(inStock.length ? inStock : products);
    if (carts) {
      // The cart as a storefront shows it after an add: its lines' products come from catalog.
      const added = await gql(url, 'mutation A($p: ID!) { addToCart(productId: $p, quantity: 1) { id itemCount lines { quantity product { id name } unitPrice { amount } } total { amount currencyCode } } }', { p: product.id }, customer.token, customer.agent);
      if (added.errors?.length) return added;
      const cartId: string | undefined = added.data?.addToCart?.id;
      // The address first (it decides the methods on offer), then the cheapest method for it.
      const addressed = await gql(url, 'mutation S($c: ID, $a: ShippingAddressInput!) { setCartShipping(cartId: $c, address: $a) { availableShippingMethods { id price { amount } } } }', { c: cartId, a: ADDRESS }, customer.token, customer.agent);
      if (addressed.errors?.length) return addressed;
      const methods: Array<{ id: string; price: { amount: string } }> = addressed.data?.setCartShipping?.availableShippingMethods ?? [];
      const cheapest = [...methods].sort((a, b) => Number(a.price.amount) - Number(b.price.amount))[0];
      if (cheapest) {
        const shipped = await gql(url, 'mutation M($c: ID, $a: ShippingAddressInput!, $m: ID) { setCartShipping(cartId: $c, address: $a, shippingMethodId: $m) { id } }', { c: cartId, a: ADDRESS, m: cheapest.id }, customer.token, customer.agent);
        if (shipped.errors?.length) return shipped;
      }
      return gql(url, 'mutation C($input: CheckoutInput!) { checkout(input: $input) { id status } }', { input: { cartId, payment: { token: card }, idempotencyKey: randomUUID() } }, customer.token, customer.agent);
    }
    return gql(url, 'mutation P($input: PlaceOrderInput!) { placeOrder(input: $input) { id status } }', { input: { items: [{ productId: product.id, quantity: 1 }], shippingAddress: ADDRESS, payment: { token: card }, idempotencyKey: randomUUID() } }, customer.token, customer.agent);
  };

  // Weights of the mix (per 100 operations).
  const mix: Array<{ kind: string; weight: number; op: Operation }> = [
    { kind: 'browse', weight: 28, op: async () => expectOk(await gql(url, 'query Home($n: Int) { products(first: $n) { edges { node { id name price { amount currencyCode } } } } }', { n: 5 + Math.floor(random() * 15) })) },
    { kind: 'search', weight: 22, op: async () => expectOk(await gql(url, 'query Search($q: String!) { products(filter: { search: $q }, first: 10) { totalCount edges { node { id name } } } }', { q: pick(SEARCHES) })) },
    { kind: 'product page', weight: 20, op: async () => expectOk(await gql(url, 'query Page($id: ID!) { product(id: $id) { id name description price { amount } inventory { available } } }', { id: pick(products).id })) },
    { kind: 'checkout', weight: customers.length ? 9 : 0, op: async () => expectOk(await placeOrder('tok_visa')) },
    // The declined card: the order is placed (PENDING) and the saga rejects it.
    { kind: 'checkout declined', weight: customers.length ? 2 : 0, op: async () => expectOk(await placeOrder('tok_chargeDeclined')) },
    { kind: 'sign-in', weight: customers.length ? 5 : 0, op: () => asCustomer(async (c) => expectOk(await gql(url, 'mutation L($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }', { e: c.email, p: password }, undefined, c.agent))) },
    // UNAUTHENTICATED, then RATE_LIMITED once the account's failures fill its window: both right.
    { kind: 'sign-in failed', weight: guessed.length ? 3 : 0, op: async () => {
      const g = pick(guessed);
      return expectCode('UNAUTHENTICATED', 'RATE_LIMITED')(await gql(url, 'mutation L($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }', { e: g.email, p: 'not the password' }, undefined, g.agent));
    } },
    { kind: 'bad input', weight: 7, op: async () => expectCode('BAD_USER_INPUT')(await gql(url, 'query Page($n: Int) { products(first: $n) { totalCount } }', { n: -1 - Math.floor(random() * 10) })) },
    {
      kind: 'admin adjustment',
      weight: adminToken ? 4 : 0,
      op: async () => {
        const product = pick(products);
        // Mostly restocks; now and then a threshold that puts the product under it (a low-stock alert).
        if (random() < 0.7) return expectOk(await gql(url, 'mutation R($id: ID!, $d: Int!) { adjustInventory(productId: $id, delta: $d, reason: "load: restock") { available } }', { id: product.id, d: 1 + Math.floor(random() * 5) }, adminToken));
        return expectOk(await gql(url, 'mutation T($id: ID!, $t: Int!) { setLowStockThreshold(productId: $id, threshold: $t) { isLowStock } }', { id: product.id, t: Math.floor(random() * 20) }, adminToken));
      },
    },
  ];
  if (options.mix === 'storefront') {
    // The storefront reads of issue 16 instead (the same customers for `me`).
    mix.length = 0;
    mix.push(
      { kind: 'listing', weight: 35, op: async () => expectOk(await gql(url, 'query Listing($n: Int) { products(first: $n) { edges { node { id name price { amount currencyCode } rating inventory { available } } } } }', { n: 10 + 5 * Math.floor(random() * 3) })) },
      { kind: 'filtered search', weight: 25, op: async () => expectOk(await gql(url, 'query Filtered($q: String!, $max: Decimal) { products(filter: { search: $q, inStock: true, maxPrice: $max }, first: 10) { totalCount edges { node { id name price { amount } } } } }', { q: pick(SEARCHES), max: pick(['50', '100', '500']) })) },
      {
        kind: 'product detail',
        weight: 25,
        op: async () => expectOk(await gql(url, 'query Detail($id: ID!) { product(id: $id) { id name description price { amount } rating inventory { available } reviews(first: 3) { edges { node { rating comment author { username } } } } similar(first: 4) { id name price { amount } } } }', { id: pick(products).id })),
      },
      { kind: 'me with orders', weight: customers.length ? 15 : 0, op: () => asCustomer(async (c) => expectOk(await gql(url, '{ me { id email orders(first: 5) { totalCount edges { node { id status } } } } }', undefined, c.token, c.agent))) },
    );
  }
  if (options.only?.length) {
    const unknown = options.only.filter((k) => !mix.some((m) => m.kind === k));
    if (unknown.length) throw new Error(`--only: no ${unknown.join(', ')} in this mix (it has ${mix.map((m) => m.kind).join(', ')})`);
    for (const m of mix) if (!options.only.includes(m.kind)) m.weight = 0;
  }
  const totalWeight = mix.reduce((n, m) => n + m.weight, 0);
  const choose = (): (typeof mix)[number] => {
    let x = random() * totalWeight;
    for (const m of mix) if ((x -= m.weight) < 0) return m;
    return mix[0]!;
  };

  // Stock subscriptions, held open for the run.
  let subscriptionEvents = 0;
  const clients: Client[] = [];
  for (let i = 0; i < (options.subscriptions ?? 3); i++) {
    const client = createClient({ url: url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, retryAttempts: 2, lazy: true });
    clients.push(client);
    const ids = Array.from({ length: 5 }, () => pick(products).id);
    client.subscribe({ query: 'subscription Stock($ids: [ID!]!) { stockChanged(productIds: $ids) { productId available } }', variables: { ids } }, { next: () => void subscriptionEvents++, error: () => undefined, complete: () => undefined });
  }

  const durations = new Map<string, number[]>();
  const errorsByKind = new Map<string, number>();
  const errorSamples: string[] = [];
  const recent: number[] = [];
  let started = 0;
  let completed = 0;
  let dropped = 0;
  let errors = 0;
  let inFlight = 0;
  const total = Math.max(1, Math.round(options.rate * options.durationSeconds));
  const begin = Date.now();
  const pending = new Set<Promise<void>>();

  const launch = (): void => {
    const { kind, op } = choose();
    if (inFlight >= maxInFlight) {
      dropped++;
      return;
    }
    started++;
    inFlight++;
    const t0 = performance.now();
    const done = op()
      .catch((error: unknown) => ({ ok: false, detail: String(error) }))
      .then((result) => {
        const ms = performance.now() - t0;
        (durations.get(kind) ?? durations.set(kind, []).get(kind)!).push(ms);
        recent.push(ms);
        completed++;
        if (!result.ok) {
          errors++;
          errorsByKind.set(kind, (errorsByKind.get(kind) ?? 0) + 1);
          // The first two of each kind (a burst of one kind must not hide another's, a failed checkout behind sign-ins).
          if ((errorsByKind.get(kind) ?? 0) <= 2) errorSamples.push(`${kind}: ${result.detail ?? ''}`);
        }
      })
      .finally(() => {
        inFlight--;
        pending.delete(done);
      });
    pending.add(done);
  };

  let lastCompleted = 0;
  const progress = setInterval(() => {
    const sorted = [...recent].sort((a, b) => a - b);
    recent.length = 0;
    options.onProgress?.({ elapsedSeconds: (Date.now() - begin) / 1000, started, completed, errors, rate: completed - lastCompleted, p95Ms: percentile(sorted, 95), subscriptionEvents });
    lastCompleted = completed;
  }, 1_000);

  try {
    // Open loop: operation i starts at begin + i / rate (late ticks catch up, bounded by maxInFlight).
    for (let i = 0; i < total; i++) {
      const due = begin + (i * 1000) / options.rate;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      launch();
    }
    await Promise.all([...pending]);
  } finally {
    clearInterval(progress);
    await Promise.all(clients.map(async (c) => {
      await c.dispose();
    }));
  }
  const kinds = mix
    .filter((m) => durations.has(m.kind))
    .map((m) => {
      const sorted = durations.get(m.kind)!.sort((a, b) => a - b);
      return { kind: m.kind, count: sorted.length, errors: errorsByKind.get(m.kind) ?? 0, p50Ms: percentile(sorted, 50), p95Ms: percentile(sorted, 95) };
    });
  return { seconds: (Date.now() - begin) / 1000, started, completed, dropped, errors, kinds, subscriptionEvents, checkoutPath: carts ? 'cart+checkout' : 'placeOrder', errorSamples, skipped };
}
