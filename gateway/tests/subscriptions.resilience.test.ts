// Resilience of gateway subscriptions: a subgraph restart mid-subscription, a client that stops
// reading, keep-alive, and a graceful shutdown. Real sockets on loopback, test subgraphs.
import WebSocket from 'ws';
import { registry } from '@shop/platform';
import { eventually } from '@shop/platform/testing';
import type { Fixture } from './subscriptions.fixture';
import { startFixture, subscribe } from './subscriptions.fixture';

const TICKS = 'subscription($ids: [ID!]!) { ticks(productIds: $ids) { seq product { name } } }';
const MAX_PENDING = 8;

async function metric(name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = await registry.getSingleMetric(name)?.get();
  return m?.values.find((v) => Object.entries(labels).every(([k, val]) => String(v.labels[k]) === val))?.value ?? 0;
}

/** A bare graphql-transport-ws client, to control reading and pongs precisely. */
async function rawClient(url: string, options: { autoPong?: boolean } = {}) {
  const socket = new WebSocket(url, 'graphql-transport-ws', { autoPong: options.autoPong ?? true });
  const messages: any[] = [];
  let close: { code: number; reason: string } | undefined;
  let pings = 0;
  socket.on('message', (data) => messages.push(JSON.parse(String(data))));
  socket.on('close', (code, reason) => (close = { code, reason: reason.toString() }));
  socket.on('ping', () => pings++);
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  socket.send(JSON.stringify({ type: 'connection_init', payload: {} }));
  await eventually(() => messages.some((m) => m.type === 'connection_ack'));
  return {
    socket,
    messages,
    get close() {
      return close;
    },
    get pings() {
      return pings;
    },
    subscribe: (id: string, query: string, variables: Record<string, unknown>) => socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query, variables } })),
  };
}

describe('gateway subscriptions under failure', () => {
  let fx: Fixture;
  beforeAll(async () => {
    // Keep-alive short enough for the ping test, long enough not to be what drops the stuck client.
    fx = await startFixture({ maxPendingEvents: MAX_PENDING, keepAliveMs: 2_000 });
  }, 60_000);
  afterAll(async () => {
    await fx?.stop();
  });

  it('should keep client subscriptions through a subgraph restart and deliver later events', async () => {
    const clients = [subscribe(fx.wsUrl, TICKS, { ids: ['r'] }), subscribe(fx.wsUrl, TICKS, { ids: ['r'] }, await fx.tokenFor({}))];
    await eventually(() => fx.ticker().parts.live.subscriberCount('ticks') === 1);
    fx.publish({ seq: 1, productId: 'r' });
    await eventually(() => clients.every((c) => c.events.length === 1));
    const reconnects = await metric('gateway_subscription_upstream_reconnects_total', { subgraph: 'ticker' });

    await fx.restartTicker(700); // the gateway sees 1001, then refused connections, then the new replica
    await eventually(() => fx.ticker().parts.live.subscriberCount('ticks') === 1, 15_000);
    fx.publish({ seq: 2, productId: 'r' });
    await eventually(() => clients.every((c) => c.events.length === 2));

    for (const c of clients) {
      expect(c.events.map((e) => e.data.ticks.seq)).toEqual([1, 2]);
      expect(c.events[1]!.data.ticks.product.name).toBe('Product r');
      expect(c.completed).toBe(false);
      expect(c.error).toBeUndefined();
      expect(c.closes).toEqual([]);
    }
    expect(await metric('gateway_subscription_upstream_reconnects_total', { subgraph: 'ticker' })).toBe(reconnects + 1);
    expect(fx.subscriptions.upstreamCount).toBe(1);
    for (const c of clients) {
      c.unsubscribe();
      await c.client.dispose();
    }
    await eventually(() => fx.subscriptions.upstreamCount === 0);
  });

  it('should drop a client that stops reading with a clear reason, without delaying the others', async () => {
    const dropped = await metric('gateway_subscription_slow_clients_dropped_total');
    const stuck = await rawClient(fx.wsUrl);
    const query = 'subscription($ids: [ID!]!) { ticks(productIds: $ids) { seq padding } }';
    for (let i = 0; i < 4; i++) stuck.subscribe(`s${i}`, query, { ids: ['slow'] });
    const healthy = subscribe<{ ticks: { seq: number } }>(fx.wsUrl, query, { ids: ['slow'] });
    await eventually(() => fx.subscriptions.upstreamCount === 1 && fx.subscriptions.connectionCount === 2);
    await new Promise((r) => setTimeout(r, 100)); // both clients attached to the shared upstream
    stuck.socket.pause(); // stops reading: TCP fills, then the gateway's per-subscription queue

    const padding = 'x'.repeat(64 * 1024);
    const sentAt = new Map<number, number>();
    const receivedAt = new Map<number, number>();
    const poll = setInterval(() => {
      for (const e of healthy.events) if (!receivedAt.has(e.data!.ticks.seq)) receivedAt.set(e.data!.ticks.seq, Date.now());
    }, 2);
    let seq = 0;
    // Bounded: 4 subscriptions x 64 KiB per event fill loopback buffers (a few MiB) well within it.
    while (seq < 400 && (await metric('gateway_subscription_slow_clients_dropped_total')) === dropped) {
      seq++;
      sentAt.set(seq, Date.now());
      fx.publish({ seq, productId: 'slow', padding });
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(await metric('gateway_subscription_slow_clients_dropped_total')).toBe(dropped + 1);
    stuck.socket.resume(); // read what is left: the close frame and its reason come after the data
    await eventually(() => stuck.close !== undefined);
    expect(stuck.close).toEqual({ code: 1013, reason: `Slow consumer: more than ${MAX_PENDING} undelivered events; dropped` });

    for (let extra = 0; extra < 3; extra++) fx.publish({ seq: ++seq, productId: 'slow', padding });
    await eventually(() => healthy.events.length === seq);
    clearInterval(poll);
    expect(healthy.events.map((e) => e.data!.ticks.seq)).toEqual(Array.from({ length: seq }, (_, i) => i + 1));
    // The healthy client never waited on the stuck one: each event reached it promptly (generous bound).
    const worst = Math.max(...[...sentAt].map(([s, at]) => (receivedAt.get(s) ?? Date.now()) - at));
    expect(worst).toBeLessThan(1_500);
    healthy.unsubscribe();
    await healthy.client.dispose();
    await eventually(() => fx.subscriptions.upstreamCount === 0 && fx.subscriptions.connectionCount === 0);
  });

  it('should ping clients and drop one that never answers', async () => {
    const silent = await rawClient(fx.wsUrl, { autoPong: false });
    const polite = await rawClient(fx.wsUrl);
    await eventually(() => silent.close !== undefined, 8_000);
    expect(silent.close!.code).toBe(1006); // terminated: it could not take a close frame politely
    expect(silent.pings).toBeGreaterThan(0);
    expect(polite.close).toBeUndefined();
    expect(polite.pings).toBeGreaterThan(0);
    polite.socket.close();
  });

  it('should complete every subscription, then close the sockets, when the gateway stops', async () => {
    const clients = [subscribe(fx.wsUrl, TICKS, { ids: ['bye'] }), subscribe(fx.wsUrl, TICKS, { ids: ['bye'] })];
    await eventually(() => fx.ticker().parts.live.subscriberCount('ticks') === 1);
    fx.publish({ seq: 1, productId: 'bye' });
    await eventually(() => clients.every((c) => c.events.length === 1));
    await fx.gateway.stop();
    for (const c of clients) {
      expect(c.completed).toBe(true);
      expect(c.error).toBeUndefined();
    }
    await eventually(() => fx.ticker().parts.live.subscriberCount('ticks') === 0);
  });
});

describe('a subscription attempted while the gateway shuts down', () => {
  let fx: Fixture;
  beforeAll(async () => {
    // A long grace and a deep client queue: a client that stops reading holds the shutdown open
    // (its queued events are still being delivered) while another client asks for a subscription.
    fx = await startFixture({ maxPendingEvents: 10_000, shutdownGraceMs: 15_000 });
  }, 60_000);
  afterAll(async () => {
    await fx?.stop();
  });

  it('should be refused with SERVICE_UNAVAILABLE, retryable, not masked as an internal error', async () => {
    const query = 'subscription($ids: [ID!]!) { ticks(productIds: $ids) { seq padding } }';
    const stuck = await rawClient(fx.wsUrl);
    for (let i = 0; i < 4; i++) stuck.subscribe(`s${i}`, query, { ids: ['held'] });
    const late = await rawClient(fx.wsUrl);
    await eventually(() => fx.subscriptions.upstreamCount === 1 && fx.subscriptions.connectionCount === 2);
    await new Promise((r) => setTimeout(r, 100)); // the four attached to the shared upstream
    stuck.socket.pause();
    const padding = 'x'.repeat(64 * 1024);
    const delivered = () => metric('gateway_subscription_events_delivered_total', { root_field: 'ticks' });
    const before = await delivered();
    // 4 x 100 x 64 KiB (25 MiB) cannot all pass loopback buffers to a client that does not read.
    for (let seq = 1; seq <= 100; seq++) fx.publish({ seq, productId: 'held', padding });
    await eventually(async () => (await delivered()) > before); // the gateway is delivering…
    await new Promise((r) => setTimeout(r, 300));
    expect((await delivered()) - before).toBeLessThan(400); // …and is stuck on the client that does not read

    const stopping = fx.gateway.stop();
    late.subscribe('late', query, { ids: ['other'] });
    const refused = await eventually(() => late.messages.find((m) => m.id === 'late'));
    expect(refused).toEqual({ id: 'late', type: 'error', payload: [{ message: 'The server is shutting down; subscribe again in a moment.', extensions: { code: 'SERVICE_UNAVAILABLE', retryable: true } }] });

    stuck.socket.resume();
    await stopping;
    expect(late.close?.code).toBe(1001);
  });
});
