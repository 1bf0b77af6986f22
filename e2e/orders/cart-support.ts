/** Steps of the cart and checkout end-to-end tests (issue 18): products with known prices and stock, admin set-up, cart operations through the gateway. */
import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { signInternalRequest } from '@shop/platform';
import { eventually } from '@shop/platform/testing';
import type { GraphQLResponse, TestShop } from '../support/harness';

export const CART_FIELDS = `id itemCount couponCodes updatedAt expiresAt
  lines { id quantity product { id name } unitPrice { amount currencyCode } lineTotal { amount } }
  subtotal { amount currencyCode } discount { amount } shipping { amount } tax { amount } total { amount }
  shippingAddress { country } shippingMethod { id name } availableShippingMethods { id name }
  problems { lineId code message }`;

export const CART = `query($id: ID) { cart(id: $id) { ${CART_FIELDS} } }`;
export const CREATE_CART = `mutation { createCart { ${CART_FIELDS} } }`;
export const ADD = `mutation($cartId: ID, $productId: ID!, $quantity: Int!) { addToCart(cartId: $cartId, productId: $productId, quantity: $quantity) { ${CART_FIELDS} } }`;
export const UPDATE_LINE = `mutation($cartId: ID, $lineId: ID!, $quantity: Int!) { updateCartLine(cartId: $cartId, lineId: $lineId, quantity: $quantity) { ${CART_FIELDS} } }`;
export const APPLY = `mutation($cartId: ID, $code: String!) { applyCoupon(cartId: $cartId, code: $code) { ${CART_FIELDS} } }`;
export const SHIP = `mutation($cartId: ID, $address: ShippingAddressInput!, $methodId: ID) { setCartShipping(cartId: $cartId, address: $address, shippingMethodId: $methodId) { ${CART_FIELDS} } }`;
export const MERGE = `mutation($guestCartId: ID!) { mergeCart(guestCartId: $guestCartId) { ${CART_FIELDS} } }`;
export const ORDER_BREAKDOWN = `id number status isGuest couponCodes items { productName quantity unitPrice { amount } }
  subtotal { amount currencyCode } discount { amount } shipping { amount } tax { amount } total { amount }
  shippingMethod { name } shippingAddress { country } payment { status }`;
export const CHECKOUT = `mutation($input: CheckoutInput!) { checkout(input: $input) { ${ORDER_BREAKDOWN} } }`;

export const address = (country: string) => ({ line1: '1 Main Street', city: 'Springfield', postalCode: '12345', country });

/** Answers `data[field]`, failing the test with the errors when there are any. */
export function ok<T = any>(res: GraphQLResponse<any>, field: string): T {
  if (res.errors) throw new Error(`${field}: ${JSON.stringify(res.errors)}`);
  return res.data[field] as T;
}

/** The first error's code and field. */
export function refusal(res: GraphQLResponse<unknown>): { code?: string; field?: string } {
  const e = res.errors?.[0]?.extensions;
  return { code: e?.['code'], field: e?.['field'] };
}

export interface Catalogue {
  readonly admin: string;
  readonly categoryId: string;
  /** Creates a product with a price and stock; resolves once orders' read models (price and stock) know it. */
  product(price: string, stock: number): Promise<string>;
}

/** Admin access and a category for products of this test file. */
export async function catalogue(shop: TestShop): Promise<Catalogue> {
  const admin = await shop.tokenFor({ roles: ['ADMIN'] });
  const category = ok(await shop.gql(`mutation($input: CreateCategoryInput!) { createCategory(input: $input) { id } }`, { input: { name: `Cart ${randomUUID().slice(0, 8)}` } }, admin), 'createCategory');
  return {
    admin,
    categoryId: category.id,
    product: async (price, stock) => {
      const p = ok(
        await shop.gql(`mutation($input: CreateProductInput!) { createProduct(input: $input) { id } }`, { input: { name: `Item ${price} ${randomUUID().slice(0, 6)}`, description: 'A test item.', price, categoryId: category.id, initialStock: stock } }, admin),
        'createProduct',
      );
      await untilOrdersKnow(shop, p.id, { price, available: stock });
      return p.id;
    },
  };
}

/** Waits until orders' read models show this price and available stock for a product. */
export async function untilOrdersKnow(shop: TestShop, productId: string, want: { price?: string; available?: number }): Promise<void> {
  const db = new Pool({ connectionString: shop.databaseUrl('orders'), max: 1 });
  try {
    await eventually(async () => {
      const { rows } = await db.query('SELECT p.price::text AS price, s.available FROM product_snapshot p LEFT JOIN stock_snapshot s USING (product_id) WHERE p.product_id = $1', [productId]);
      const r = rows[0];
      if (!r) return null;
      if (want.price !== undefined && Number(r.price) !== Number(want.price)) return null;
      if (want.available !== undefined && r.available !== want.available) return null;
      return true;
    }, 30_000, 100);
  } finally {
    await db.end();
  }
}

/** What orders answers users for a guest order (the signed internal route). */
export async function guestContact(shop: TestShop, orderId: string, audience = 'orders'): Promise<{ status: number; body: any }> {
  const url = new URL(shop.supergraph.services.orders.url);
  const path = `/internal/guest-contact/${orderId}`;
  const headers = signInternalRequest({ secret: shop.internalAuthSecret, audience, method: 'GET', path, body: '' });
  const res = await fetch(`${url.origin}${path}`, { headers });
  return { status: res.status, body: await res.json() };
}
