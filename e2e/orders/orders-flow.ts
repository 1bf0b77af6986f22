/** Shared steps of the orders end-to-end scenarios: demo products with stock, placing and following orders through the gateway. */
import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { eventually } from '@shop/platform/testing';
import type { TestShop } from '../support/harness';

export interface DemoProduct {
  readonly id: string;
  readonly name: string;
  readonly price: string;
  readonly available: number;
}

export const ORDER_FIELDS = `id number status rejectionReason cancellableUntil createdAt
  statusHistory { status reason }
  items { productName quantity unitPrice { amount currencyCode } lineTotal { amount } product { id name price { amount } } }
  total { amount currencyCode }
  payment { status provider last4 declineReason }
  shipment { carrier trackingNumber deliveredAt }`;

export const PLACE_ORDER = `mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { ${ORDER_FIELDS} } }`;
export const ORDER = `query($id: ID!) { order(id: $id) { ${ORDER_FIELDS} } }`;
export const STOCK = `query($id: ID!) { product(id: $id) { inventory { onHand reserved available } } }`;

export function orderInput(items: Array<{ productId: string; quantity: number }>, options: { token?: string; key?: string } = {}) {
  return {
    items,
    shippingAddress: { line1: '221B Baker Street', city: 'London', postalCode: 'NW1 6XE', country: 'GB' },
    payment: { token: options.token ?? 'tok_visa' },
    idempotencyKey: options.key ?? randomUUID(),
  };
}

/**
 * The seeded products that have stock, once inventory opened their stock records and orders'
 * read model knows them (both fill from catalog events, a moment after the seed).
 */
/** Places an order through the gateway and expects it accepted as PENDING; answers the order. */
export async function placePendingOrder(shop: TestShop, items: Array<{ productId: string; quantity: number }>, token: string, payment = 'tok_visa'): Promise<any> {
  const res = await shop.gql(PLACE_ORDER, { input: orderInput(items, { token: payment }) }, token);
  expect(res.errors).toBeUndefined();
  expect(res.data.placeOrder.status).toBe('PENDING');
  return res.data.placeOrder;
}

export async function demoProducts(shop: TestShop, minimum = 10): Promise<DemoProduct[]> {
  const db = new Pool({ connectionString: shop.databaseUrl('orders'), max: 1 });
  try {
    return await eventually(async () => {
      const res = await shop.gql(`{ products(first: 60) { edges { node { id name price { amount } inventory { available } } } } }`);
      const products: DemoProduct[] = (res.data?.products.edges ?? [])
        .map((e: any) => ({ id: e.node.id, name: e.node.name, price: e.node.price.amount, available: e.node.inventory.available }))
        .filter((p: DemoProduct) => p.available > 0);
      if (products.length < minimum) return null;
      const known = await db.query('SELECT count(*)::int AS n FROM product_snapshot WHERE product_id = ANY($1)', [products.map((p) => p.id)]);
      return known.rows[0].n === products.length ? products : null;
    }, 45_000, 200);
  } finally {
    await db.end();
  }
}

export async function stockOf(shop: TestShop, productId: string): Promise<{ onHand: number; reserved: number; available: number }> {
  const res = await shop.gql(STOCK, { id: productId });
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data.product.inventory;
}

/** Waits until the order reaches `status` (as its owner or an admin sees it). */
export async function waitForStatus(shop: TestShop, id: string, status: string, token: string, timeoutMs = 20_000): Promise<any> {
  return eventually(async () => {
    const res = await shop.gql(ORDER, { id }, token);
    return res.data?.order?.status === status ? res.data.order : null;
  }, timeoutMs, 100);
}
