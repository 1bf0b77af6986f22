// A client that stops reading is dropped by the gateway with a clear close reason once its bounded
// buffer is full, and never delays the other clients of the same upstream subscription.
//
// Load-robust (CI runs at load 10+): what is asserted is causal, never a wall-clock figure, and the
// waits are bounds for a loaded machine, not expectations.
// - The healthy client must get each change before the next one is made, all the while the other
//   client is stuck: a stuck client that held the others back would stall the loop until its drop,
//   which would then never come.
// - The clients talk to a second gateway in front of the shop's subgraphs: the shop's own gateway
//   code with a keepalive of 10 minutes instead of 12 s. A stuck client answers no ping either, so
//   the keepalive drops it too, 12-24 s after it stopped reading; on a loaded machine the 64 events
//   that overflow its queue can take longer than that, and the test would see the wrong drop.
// - The gateway gives a dropped client 1 s to take the close frame (then it cuts the connection),
//   so the stuck client starts reading again the moment the gateway drops it, not once a poll of
//   /metrics has noticed (seconds on a loaded machine).
import WebSocket from 'ws';
import type { Logger } from '@shop/platform';
import { createLogger } from '@shop/platform';
import { eventually } from '@shop/platform/testing';
import type { RunningGateway } from '@shop/gateway';
import { jwtVerifier, SessionRevocations, startGateway } from '@shop/gateway';
import { attachSubscriptions } from '@shop/gateway/subscriptions';
import type { DemoProduct } from '../orders/orders-flow';
import { demoProducts } from '../orders/orders-flow';
import type { TestShop } from '../support/harness';
import { postGraphQL, startTestShop } from '../support/harness';
import { ADJUST, metricsOf, sample, watch, wsUrlOf } from './support';

/** Bounds of the waits below: generous, so that a loaded machine only makes the test slower. */
const WAIT_MS = 60_000;
/** At most this many changes: the stuck client's socket buffers and its 64-event queue fill well within. */
const MAX_CHANGES = 300;
/** What the gateway logs when it drops a slow client (see gateway/src/subscriptions/server.ts). */
const DROP_LOG = 'dropping a slow subscription client';

/** A heavy event (a few KiB: similar products with their descriptions), so a stuck socket fills quickly. */
const HEAVY = 'subscription($ids: [ID!]!) { stockChanged(productIds: $ids) { available product { name description similar(first: 20) { name slug description imageUrls } } } }';
const LIGHT = 'subscription($ids: [ID!]!) { stockChanged(productIds: $ids) { available } }';

/**
 * The shop's gateway code in front of `shop`'s subgraphs, with the keepalive out of the way;
 * `onDrop` runs the moment it drops a slow client.
 */
async function gatewayWithoutKeepaliveDrops(shop: TestShop, onDrop: () => void): Promise<{ gateway: RunningGateway; via: TestShop }> {
  const base = createLogger('gateway', process.env['LOG_LEVEL'] ?? 'silent');
  const logger = new Proxy(base, {
    get: (target, property, receiver) => {
      if (property !== 'warn') return Reflect.get(target, property, receiver) as unknown;
      return (...args: unknown[]) => {
        if (args.includes(DROP_LOG)) onDrop();
        (target.warn as (...a: unknown[]) => void).apply(target, args);
      };
    },
  }) as Logger;
  const subscriptions = attachSubscriptions({ internalAuthSecret: shop.internalAuthSecret, keepAliveMs: 10 * 60_000 });
  const gateway = await startGateway({
    port: 0,
    subgraphUrls: Object.fromEntries(Object.entries(shop.supergraph.services).map(([name, s]) => [name, s.url])),
    internalAuthSecret: shop.internalAuthSecret,
    verifier: jwtVerifier(shop.jwtSecret, new SessionRevocations()),
    nodeEnv: 'test',
    logger: base,
    attach: (server, apollo, ctx) => subscriptions(server, apollo, { ...ctx, logger }),
  });
  return { gateway, via: { ...shop, url: gateway.url, gql: (query, variables, token) => postGraphQL(gateway.url, query, variables, token) } };
}

/**
 * A bare graphql-transport-ws client whose reading can be paused (`socket.pause()`); it keeps its
 * close code and reason, and only counts the events (reading them back must be cheap).
 */
async function stuckClient(shop: TestShop) {
  const socket = new WebSocket(wsUrlOf(shop), 'graphql-transport-ws');
  let acknowledged = false;
  let events = 0;
  let close: { code: number; reason: string } | undefined;
  socket.on('message', (data) => {
    if (acknowledged) events++;
    else acknowledged = (JSON.parse(String(data)) as { type: string }).type === 'connection_ack';
  });
  socket.on('close', (code, reason) => (close = { code, reason: reason.toString() }));
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  socket.send(JSON.stringify({ type: 'connection_init', payload: {} }));
  await eventually(() => acknowledged || close, WAIT_MS, 10);
  if (!acknowledged) throw new Error(`no connection_ack (close: ${JSON.stringify(close)})`);
  return {
    socket,
    get events() {
      return events;
    },
    get close() {
      return close;
    },
    subscribe: (id: string, query: string, variables: Record<string, unknown>) => socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query, variables } })),
  };
}

describe('a stuck subscription client', () => {
  let started: TestShop;
  let second: RunningGateway | undefined;
  let shop: TestShop;
  let product: DemoProduct;
  let admin: string;
  let onDrop = (): void => undefined;

  beforeAll(async () => {
    started = await startTestShop({ seed: true });
    ({ gateway: second, via: shop } = await gatewayWithoutKeepaliveDrops(started, () => onDrop()));
    product = (await demoProducts(shop))[0]!;
    admin = await shop.tokenFor({ roles: ['ADMIN'] });
  }, 180_000);
  afterAll(async () => {
    await second?.stop();
    await started?.stop();
  });

  it('should be dropped with a clear reason without delaying the others', async () => {
    const gateway = () => metricsOf(shop, 'gateway');
    const droppedBefore = sample(await gateway(), 'gateway_subscription_slow_clients_dropped_total');
    const stuck = await stuckClient(shop);
    for (let i = 0; i < 50; i++) stuck.subscribe(`heavy-${i}`, HEAVY, { ids: [product.id] });
    const healthy = watch<{ stockChanged: { available: number } }>(shop, LIGHT, { ids: [product.id] });
    await eventually(async () => sample(await gateway(), 'gateway_subscriptions_active', { root_field: 'stockChanged' }) === 51, WAIT_MS, 100);
    await eventually(async () => sample(await metricsOf(shop, 'inventory'), 'subgraph_subscriptions_active', { service: 'inventory', field: 'stockChanged' }) === 2, WAIT_MS, 100);
    // Stops reading: loopback buffers fill, then the gateway's bounded queue. Once dropped, it reads
    // what it still can: the buffered events, then the close frame with its reason.
    let dropped = false;
    onDrop = () => {
      dropped = true;
      stuck.socket.resume();
    };
    stuck.socket.pause();

    // Bounded: 50 heavy subscriptions fill a few MiB of socket buffers and the 64-event queue well within it.
    let changes = 0;
    while (!dropped && changes < MAX_CHANGES) {
      const res = await shop.gql(ADJUST, { id: product.id, delta: 1 }, admin);
      expect(res.errors).toBeUndefined();
      changes++;
      // Not delayed by the stuck client: this change reaches the healthy one before the next is made.
      await eventually(() => healthy.events.length >= changes, WAIT_MS, 10);
    }
    expect(dropped).toBe(true);
    await eventually(() => stuck.close !== undefined, WAIT_MS, 10);
    expect(stuck.close).toEqual({ code: 1013, reason: 'Slow consumer: more than 64 undelivered events; dropped' });
    expect(sample(await gateway(), 'gateway_subscription_slow_clients_dropped_total')).toBe(droppedBefore + 1);
    expect(stuck.events).toBeLessThan(50 * changes); // it did fall behind

    // The healthy client got every change, once each and in order (each while the other was stuck).
    expect(healthy.events.map((e) => e.data!.stockChanged.available)).toEqual(Array.from({ length: changes }, (_, i) => product.available + i + 1));
    await eventually(async () => sample(await gateway(), 'gateway_subscriptions_active', { root_field: 'stockChanged' }) === 1, WAIT_MS, 100);
    await healthy.close();
  }, 20 * WAIT_MS);
});
