/** Helpers of the subscription scenarios: graphql-ws clients through the gateway, metrics read from /metrics. */
import type { Client } from 'graphql-ws';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { eventually } from '@shop/platform/testing';
import type { DemoProduct } from '../orders/orders-flow';
import { demoProducts } from '../orders/orders-flow';
import type { BusKind, TestShop } from '../support/harness';
import { startTestShop } from '../support/harness';

/** What one client saw of one subscription. */
export interface Watched<T = any> {
  readonly events: Array<{ data?: T | null; errors?: Array<{ message: string; extensions?: Record<string, any> }>; extensions?: Record<string, any> }>;
  /** When each event arrived (ms since the epoch). */
  readonly arrivals: number[];
  completed: boolean;
  error: unknown;
  readonly closes: Array<{ code: number; reason: string }>;
  readonly client: Client;
  unsubscribe(): void;
  /** Unsubscribes and closes the client. */
  close(): Promise<void>;
}

/** The gateway's graphql-ws URL. */
export function wsUrlOf(shop: TestShop): string {
  return shop.url.replace(/^http/, 'ws');
}

/**
 * One graphql-ws client (no automatic retry: a close is an outcome the test asserts) with one
 * subscription, the token (if any) sent as `{ authorization: "Bearer …" }` in connection_init.
 */
export function watch<T = any>(shop: TestShop | string, query: string, variables: Record<string, unknown> = {}, token?: string, extensions?: Record<string, unknown>): Watched<T> {
  const closes: Array<{ code: number; reason: string }> = [];
  const client = createClient({
    url: typeof shop === 'string' ? shop.replace(/^http/, 'ws') : wsUrlOf(shop),
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: true,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
    on: { closed: (e) => void closes.push({ code: (e as { code: number }).code, reason: String((e as { reason: unknown }).reason) }) },
  });
  const watched: Watched<T> = {
    events: [],
    arrivals: [],
    completed: false,
    error: undefined,
    closes,
    client,
    unsubscribe: () => undefined,
    close: async () => {
      watched.unsubscribe();
      await client.dispose();
    },
  };
  watched.unsubscribe = client.subscribe<T>(
    { query, variables, ...(extensions ? { extensions } : {}) },
    {
      next: (value) => {
        watched.arrivals.push(Date.now());
        watched.events.push(value as Watched<T>['events'][number]);
      },
      error: (error) => void (watched.error = error),
      complete: () => void (watched.completed = true),
    },
  );
  return watched;
}

/** One sample of a Prometheus exposition (`name{labels} value`), summed over the series matching `labels`. */
export function sample(exposition: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of exposition.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const got: Record<string, string> = {};
    for (const m of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) got[m[1]!] = m[2]!;
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) sum += Number(match[3]);
  }
  return sum;
}

/** The /metrics text of the gateway or of one subgraph. */
export async function metricsOf(shop: TestShop, who: 'gateway' | 'inventory' | 'orders'): Promise<string> {
  const base = (who === 'gateway' ? shop.url : shop.supergraph.services[who].url).replace(/\/graphql$/, '');
  return (await fetch(`${base}/metrics`)).text();
}

/** Waits until `service` holds `n` subscriptions of `field` from the gateway (so nothing is published before they listen). */
export async function subgraphSubscriptions(shop: TestShop, service: 'inventory' | 'orders', field: string, n: number, timeoutMs = 20_000): Promise<void> {
  await eventually(async () => sample(await metricsOf(shop, service), 'subgraph_subscriptions_active', { service, field }) === n, timeoutMs);
}

/** A whole shop for one describe block (started before its tests, stopped after), an admin token, and demo products with stock handed out one per test. */
export interface SubscriptionShop {
  readonly shop: TestShop;
  readonly admin: string;
  /** The next demo product with at least the minimum available, never handed out before. */
  take(): DemoProduct;
}

export function subscriptionShop(bus: BusKind, minimumAvailable: number): SubscriptionShop {
  let products: DemoProduct[] = [];
  const fixture = { shop: undefined as unknown as TestShop, admin: '', take: (): DemoProduct => products.shift()! };
  beforeAll(async () => {
    fixture.shop = await startTestShop({ bus, seed: true });
    products = (await demoProducts(fixture.shop)).filter((p) => p.available >= minimumAvailable);
    fixture.admin = await fixture.shop.tokenFor({ roles: ['CUSTOMER', 'ADMIN'] });
  }, 90_000);
  afterAll(async () => {
    await fixture.shop?.stop();
  });
  return fixture;
}

export const ADJUST = 'mutation($id: ID!, $delta: Int!) { adjustInventory(productId: $id, delta: $delta, reason: "stock count") { available } }';

/**
 * A bare graphql-transport-ws client on the gateway, for what graphql-ws's client hides: reading
 * can be paused (`socket.pause()`), and the close code and reason are kept.
 */
export async function rawClient(shop: TestShop, token?: string) {
  const socket = new WebSocket(wsUrlOf(shop), 'graphql-transport-ws');
  const messages: Array<{ id?: string; type: string; payload?: any }> = [];
  let close: { code: number; reason: string } | undefined;
  socket.on('message', (data) => messages.push(JSON.parse(String(data))));
  socket.on('close', (code, reason) => (close = { code, reason: reason.toString() }));
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  socket.send(JSON.stringify({ type: 'connection_init', payload: token ? { authorization: `Bearer ${token}` } : {} }));
  const deadline = Date.now() + 10_000;
  while (!messages.some((m) => m.type === 'connection_ack')) {
    if (Date.now() > deadline || close) throw new Error(`no connection_ack (close: ${JSON.stringify(close)})`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return {
    socket,
    messages,
    get close() {
      return close;
    },
    subscribe: (id: string, query: string, variables: Record<string, unknown>) => socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query, variables } })),
  };
}
