/**
 * Distributed tracing end to end: a checkout sent with a client's W3C traceparent is one trace
 * across the gateway, the orders and inventory subgraphs and the event hops between them
 * (outbox → bus → consumer), recorded by an in-memory exporter.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { SpanKind } from '@opentelemetry/api';
import { eventually } from '@shop/platform/testing';
import type { ReadableSpan, Tracing } from '@shop/platform';
import { InMemorySpanExporter, initTracing, inSpan, SERVICE_ATTRIBUTE, traceLogFields } from '@shop/platform';
import type { TestShop } from '../support/harness';
import { BUS_KINDS, startTestShop } from '../support/harness';

jest.setTimeout(90_000);

const exporter = new InMemorySpanExporter();
let tracing: Tracing;
beforeAll(() => {
  tracing = initTracing({ serviceName: 'shop', exporter });
});
afterAll(async () => {
  await tracing?.shutdown();
});

describe.each(BUS_KINDS)('distributed tracing of a checkout (%s bus)', (bus) => {
  let shop: TestShop;

  beforeAll(async () => {
    shop = await startTestShop({ bus, seed: true });
  });

  afterAll(async () => {
    await shop?.stop();
  });

  it('should put the gateway, orders, inventory and the event hops of one checkout in one trace', async () => {
    const products = await eventually(async () => {
      const r = await shop.gql('{ products(first: 50) { edges { node { id inventory { available } } } } }');
      const inStock = (r.data?.products.edges ?? []).map((e: any) => e.node).filter((n: any) => n.inventory.available >= 1);
      return inStock.length ? inStock : null;
    }, 30_000);
    const token = await shop.tokenFor({ roles: ['CUSTOMER'] });

    // The client starts the trace. Orders learns products from catalog events, so the first
    // attempts may not know the product yet: each attempt is a trace of its own.
    const { traceId, clientSpanId } = await eventually(async () => {
      const attempt = { traceId: randomBytes(16).toString('hex'), clientSpanId: randomBytes(8).toString('hex') };
      const res = await fetch(shop.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, traceparent: `00-${attempt.traceId}-${attempt.clientSpanId}-01` },
        body: JSON.stringify({
          query: 'mutation Checkout($input: PlaceOrderInput!) { placeOrder(input: $input) { id status } }',
          variables: {
            input: {
              items: [{ productId: products[0].id, quantity: 1 }],
              shippingAddress: { line1: '1 Main St', city: 'Springfield', postalCode: '12345', country: 'US' },
              payment: { token: 'tok_visa' },
              idempotencyKey: randomUUID(),
            },
          },
        }),
      });
      const body = (await res.json()) as { data?: { placeOrder?: { id: string } } };
      return body.data?.placeOrder?.id ? attempt : null;
    }, 30_000, 500);

    const inTrace = (): ReadableSpan[] => exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
    const service = (s: ReadableSpan): string => String(s.attributes[SERVICE_ATTRIBUTE] ?? '');
    // The saga: orders publishes the order, inventory reserves and answers, orders consumes the answer
    // (orders also consumes its own order events, for the sales report: wait for the answer's hop).
    const spans = await eventually(() => {
      const all = inTrace();
      const ids = new Map(all.map((s) => [s.spanContext().spanId, s]));
      const answered = all.some((s) => s.kind === SpanKind.CONSUMER && service(s) === 'orders' && service(ids.get(s.parentSpanContext?.spanId ?? '') ?? s) === 'inventory');
      return answered && all.some((s) => s.kind === SpanKind.CONSUMER && service(s) === 'inventory') ? all : null;
    }, 30_000, 200);

    const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
    const parentOf = (s: ReadableSpan): ReadableSpan | undefined => byId.get(s.parentSpanContext?.spanId ?? '');
    const gatewayServer = spans.find((s) => s.kind === SpanKind.SERVER && service(s) === 'gateway');
    expect(gatewayServer?.parentSpanContext?.spanId).toBe(clientSpanId);
    expect(spans.some((s) => s.name === 'gateway.fetch')).toBe(true);
    const ordersServer = spans.find((s) => s.kind === SpanKind.SERVER && service(s) === 'orders');
    expect(ordersServer).toBeDefined();
    // The orders server span descends from the gateway's (through @apollo/gateway's fetch span).
    let ancestor = ordersServer && parentOf(ordersServer);
    while (ancestor && ancestor !== gatewayServer) ancestor = parentOf(ancestor);
    expect(ancestor).toBe(gatewayServer);

    // Each event hop: a consumer span whose parent is the producer span of the event it handles.
    const inventoryConsumer = spans.find((s) => s.kind === SpanKind.CONSUMER && service(s) === 'inventory');
    const orderPublished = inventoryConsumer && parentOf(inventoryConsumer);
    expect(orderPublished?.kind).toBe(SpanKind.PRODUCER);
    expect(service(orderPublished!)).toBe('orders');
    const ordersConsumer = spans.find((s) => s.kind === SpanKind.CONSUMER && service(s) === 'orders' && parentOf(s) && service(parentOf(s)!) === 'inventory');
    expect(parentOf(ordersConsumer!)?.kind).toBe(SpanKind.PRODUCER);
    // Each service's spans carry its own service.name, although the services share this process.
    const resourceName = (s: ReadableSpan): unknown => s.resource.attributes['service.name'];
    expect([gatewayServer, ordersServer, inventoryConsumer].map((s) => s && resourceName(s))).toEqual(['gateway', 'orders', 'inventory']);
    expect(spans.filter((s) => s.name.startsWith('gateway.')).map(resourceName).filter((n) => n !== 'gateway')).toEqual([]);
    const services = [...new Set(spans.map(service).filter(Boolean))];
    for (const name of ['gateway', 'orders', 'inventory']) expect(services).toContain(name);
  });
});

describe('log correlation', () => {
  it('should give log lines written inside a span its trace id', async () => {
    const fields = await inSpan('log correlation', { kind: SpanKind.INTERNAL }, async (span) => ({ fields: traceLogFields(), id: span.spanContext().traceId }));
    expect(fields.fields).toEqual({ trace_id: fields.id, span_id: expect.stringMatching(/^[0-9a-f]{16}$/) });
    expect(traceLogFields()).toEqual({});
  });
});
