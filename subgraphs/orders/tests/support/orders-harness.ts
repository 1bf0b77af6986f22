/**
 * The orders subgraph alone, for service-level tests of the saga: its own database, an in-process
 * bus on another one, a sandbox provider the test controls, GraphQL straight to the subgraph
 * with a signed identity, and a probe that records every event orders publishes. The test plays
 * the catalog and inventory by publishing their events itself.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { ORDERS_ORDER_TOPIC, ProductCreated } from '@shop/events';
import type { EventDefinition } from '@shop/events';
import type { Consumer, EventEnvelope, Identity, NodeEnv, RunningService, SettingsOverrides } from '@shop/platform';
import { createEnvelope, createLogger, InProcessBus, startService } from '@shop/platform';
import { createTestDatabase, createTestPool, eventually, postAsGateway, uniqueName } from '@shop/platform/testing';
import type { TestDatabase } from '@shop/platform/testing';
import { Pool } from 'pg';
import type { ordersSettings } from '../../src/config';
import { createOrdersService } from '../../src/service';
import type { OrdersParts } from '../../src/setup';
import { SandboxPaymentProvider } from '../../src/payments/sandbox-payment-provider';

export interface OrdersHarness {
  readonly service: RunningService<OrdersParts>;
  readonly parts: OrdersParts;
  readonly sandbox: SandboxPaymentProvider;
  /** Every event orders published so far, in order. */
  readonly events: EventEnvelope<any>[];
  /** A direct connection to the orders database. */
  readonly db: Pool;
  publish<T>(def: EventDefinition<T>, key: string, data: NoInfer<T>): Promise<EventEnvelope<T>>;
  republish(envelope: EventEnvelope<unknown>, topic: string): Promise<void>;
  gql(query: string, variables: Record<string, unknown>, identity: Identity | null): Promise<{ data?: any; errors?: Array<{ message: string; extensions?: Record<string, any> }> }>;
  /** A product in the orders read model (published as catalog.product-created.v1, awaited). */
  createProduct(price: string, name?: string): Promise<string>;
  eventsOf(orderId: string): string[];
  stop(): Promise<void>;
}

export const customer = (userId: string = randomUUID()): Identity => ({ userId, roles: ['CUSTOMER'], sessionId: randomUUID(), exp: Math.floor(Date.now() / 1000) + 3600 });
export const admin = (): Identity => ({ userId: randomUUID(), roles: ['CUSTOMER', 'ADMIN'], sessionId: randomUUID(), exp: Math.floor(Date.now() / 1000) + 3600 });

export async function startOrdersAlone(settings: SettingsOverrides<typeof ordersSettings.shape> = {}, options: { readonly nodeEnv?: NodeEnv } = {}): Promise<OrdersHarness> {
  const database: TestDatabase = await createTestDatabase('orders_svc');
  const busPool = await createTestPool('orders_bus');
  const bus = new InProcessBus({ pool: busPool.pool, pollIntervalMs: 50 });
  const sandbox = new SandboxPaymentProvider({ latencyMs: 5 });
  const secret = randomBytes(32).toString('base64url');
  const service = await startService(createOrdersService({ paymentProvider: () => sandbox }), {
    port: 0,
    databaseUrl: database.url,
    bus,
    internalAuthSecret: secret,
    nodeEnv: options.nodeEnv ?? 'test',
    logger: createLogger('orders', process.env['LOG_LEVEL'] ?? 'silent'),
    settings: { PAYMENT_TIMEOUT_MS: 300, PAYMENT_WORKER_INTERVAL_MS: 100, SAGA_SWEEP_INTERVAL_MS: 100, ...settings },
  });
  const events: EventEnvelope<any>[] = [];
  let probe: Consumer | undefined;
  const db = new Pool({ connectionString: database.url, max: 2 });
  probe = await bus.subscribe({ groupId: uniqueName('probe'), topics: [ORDERS_ORDER_TOPIC], handle: async (m) => void events.push(JSON.parse(m.value)) });
  const publish = async <T>(def: EventDefinition<T>, key: string, data: NoInfer<T>): Promise<EventEnvelope<T>> => {
    const envelope = createEnvelope('test', def, key, data);
    await bus.publish([{ topic: def.topic, key, value: JSON.stringify(envelope) }]);
    return envelope;
  };
  const harness: OrdersHarness = {
    service,
    parts: service.parts,
    sandbox,
    events,
    db,
    publish,
    republish: async (envelope, topic) => bus.publish([{ topic, key: envelope.key, value: JSON.stringify(envelope) }]),
    gql: async (query, variables, identity) => postAsGateway(service.url, { secret, audience: 'orders', query, variables, identity }),
    createProduct: async (price, name = `Product ${randomBytes(3).toString('hex')}`) => {
      const productId = randomUUID();
      await publish(ProductCreated, productId, {
        productId,
        name,
        slug: productId,
        price: { amount: price, currencyCode: 'USD' },
        categoryId: randomUUID(),
        initialStock: 10,
        lowStockThreshold: 1,
      });
      await eventually(async () => (await db.query('SELECT 1 FROM product_snapshot WHERE product_id = $1', [productId])).rowCount, 10_000);
      return productId;
    },
    eventsOf: (orderId) => events.filter((e) => e.key === orderId).map((e) => e.type),
    stop: async () => {
      await probe?.stop();
      probe = undefined;
      await service.stop();
      await bus.close();
      await db.end();
      await busPool.close();
      await database.drop();
    },
  };
  return harness;
}

export const ORDER_FIELDS = `id number status rejectionReason cancellableUntil createdAt updatedAt
  statusHistory { status at reason }
  items { product { id } productName quantity unitPrice { amount currencyCode } lineTotal { amount currencyCode } }
  subtotal { amount currencyCode } total { amount currencyCode }
  user { id }
  shippingAddress { line1 line2 city postalCode country }
  payment { status provider last4 declineReason }
  shipment { carrier trackingNumber shippedAt deliveredAt }`;

export const PLACE_ORDER = `mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { ${ORDER_FIELDS} } }`;
export const ORDER = `query($id: ID!) { order(id: $id) { ${ORDER_FIELDS} } }`;

export function orderInput(items: Array<{ productId: string; quantity: number }>, overrides: { token?: string; key?: string } = {}) {
  return {
    items,
    shippingAddress: { line1: '1 Main Street', city: 'Springfield', postalCode: '12345', country: 'US' },
    payment: { token: overrides.token ?? 'tok_visa' },
    idempotencyKey: overrides.key ?? randomUUID(),
  };
}
