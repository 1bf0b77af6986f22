import { randomUUID } from 'node:crypto';
import { ProductDeleted, ProductUpdated } from '@shop/events';
import { eventually } from '@shop/platform/testing';
import type { OrdersHarness } from './support/orders-harness';
import { customer, orderInput, PLACE_ORDER, startOrdersAlone } from './support/orders-harness';

describe('checkout (orders alone)', () => {
  let h: OrdersHarness;
  let product: string;
  beforeAll(async () => {
    h = await startOrdersAlone();
    product = await h.createProduct('12.00', 'Notebook');
  });
  afterAll(async () => {
    await h?.stop();
  });

  const place = (input: unknown, who = customer()) => h.gql(PLACE_ORDER, { input }, who);
  const errorOf = (res: { errors?: Array<{ extensions?: Record<string, any> }> }) => res.errors?.[0]?.extensions;

  it('should refuse invalid input with BAD_USER_INPUT naming the field', async () => {
    const base = orderInput([{ productId: product, quantity: 1 }]);
    const cases: Array<[unknown, string]> = [
      [{ ...base, items: [] }, 'input.items'],
      [{ ...base, items: [{ productId: product, quantity: 0 }] }, 'input.items[0].quantity'],
      [{ ...base, items: [{ productId: product, quantity: 101 }] }, 'input.items[0].quantity'],
      [{ ...base, items: [{ productId: product, quantity: 1 }, { productId: randomUUID(), quantity: 1 }] }, 'input.items[1].productId'],
      [{ ...base, items: [{ productId: 'abc', quantity: 1 }] }, 'input.items[0].productId'],
      [{ ...base, shippingAddress: { ...base.shippingAddress, country: 'Germany' } }, 'input.shippingAddress.country'],
      [{ ...base, shippingAddress: { ...base.shippingAddress, line1: '' } }, 'input.shippingAddress.line1'],
      [{ ...base, shippingAddress: { ...base.shippingAddress, postalCode: '' } }, 'input.shippingAddress.postalCode'],
    ];
    for (const [input, field] of cases) {
      const res = await place(input);
      expect({ field, got: errorOf(res) }).toEqual({ field, got: expect.objectContaining({ code: 'BAD_USER_INPUT', field }) });
    }
    expect((await h.db.query('SELECT count(*)::int AS n FROM orders')).rows[0].n).toBe(0);
  });

  it('should price new orders from the latest catalog event and refuse deleted products', async () => {
    const other = await h.createProduct('5.00', 'Pen');
    await h.publish(ProductUpdated, other, { productId: other, name: 'Fancy pen', slug: 'pen', price: { amount: '6.25', currencyCode: 'USD' }, categoryId: randomUUID() });
    await eventually(async () => (await h.db.query(`SELECT 1 FROM product_snapshot WHERE product_id = $1 AND price = 6.25`, [other])).rowCount);
    const res = await place(orderInput([{ productId: other, quantity: 4 }]));
    expect(res.data.placeOrder.items[0]).toMatchObject({ productName: 'Fancy pen', unitPrice: { amount: '6.25' }, lineTotal: { amount: '25.00' } });
    await h.publish(ProductDeleted, other, { productId: other });
    await eventually(async () => (await h.db.query('SELECT 1 FROM product_snapshot WHERE product_id = $1 AND deleted', [other])).rowCount);
    expect(errorOf(await place(orderInput([{ productId: product, quantity: 1 }, { productId: other, quantity: 1 }])))).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.items[1].productId' });
  });

  it('should create one order for fifty concurrent identical calls and answer it to all of them', async () => {
    const alice = customer();
    const input = orderInput([{ productId: product, quantity: 2 }]);
    const results = await Promise.all(Array.from({ length: 50 }, () => place(input, alice)));
    expect(results.flatMap((r) => r.errors ?? [])).toEqual([]);
    const ids = new Set(results.map((r) => r.data.placeOrder.id));
    expect(ids.size).toBe(1);
    const [id] = [...ids];
    expect((await h.db.query('SELECT count(*)::int AS n FROM orders WHERE user_id = $1', [alice.userId])).rows[0].n).toBe(1);
    expect((await h.db.query('SELECT count(*)::int AS n FROM order_item WHERE order_id = $1', [id])).rows[0].n).toBe(1);
    await eventually(() => h.eventsOf(id!).length === 1);
    await new Promise((r) => setTimeout(r, 200));
    expect(h.eventsOf(id!)).toEqual(['orders.order-placed.v1']);
  });

  it('should answer CONFLICT for a reused key with another input, and keep keys per user', async () => {
    const alice = customer();
    const input = orderInput([{ productId: product, quantity: 1 }]);
    const first = await place(input, alice);
    expect(errorOf(await place({ ...input, items: [{ productId: product, quantity: 2 }] }, alice))).toMatchObject({ code: 'CONFLICT', field: 'input.idempotencyKey' });
    expect(errorOf(await place({ ...input, payment: { token: 'tok_mastercard' } }, alice))).toMatchObject({ code: 'CONFLICT' });
    expect((await place(input, alice)).data.placeOrder.id).toBe(first.data.placeOrder.id);
    // Another user's key space is their own.
    expect((await place(input, customer())).data.placeOrder.id).not.toBe(first.data.placeOrder.id);
  });

  it('should need a signed-in user', async () => {
    expect(errorOf(await h.gql(PLACE_ORDER, { input: orderInput([{ productId: product, quantity: 1 }]) }, null))).toMatchObject({ code: 'UNAUTHENTICATED' });
  });
});
