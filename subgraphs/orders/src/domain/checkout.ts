/**
 * Checkout input rules: parse, don't trust. Every failure is a BAD_USER_INPUT naming the field
 * (`input.items[0].quantity`), checked before anything touches the database.
 */
import { createHash } from 'node:crypto';
import { badUserInput } from '@shop/platform';
import { isCountryCode } from './countries';

/** Lines per order. */
export const MAX_LINES = 50;
/** Quantity per line, inclusive. */
export const MIN_QUANTITY = 1;
export const MAX_QUANTITY = 100;

/** What the client sends (`PlaceOrderInput`). */
export interface PlaceOrderInput {
  readonly items: ReadonlyArray<{ readonly productId: string; readonly quantity: number }>;
  readonly shippingAddress: { readonly line1: string; readonly line2?: string | null; readonly city: string; readonly postalCode: string; readonly country: string };
  readonly payment: { readonly token: string };
  readonly idempotencyKey: string;
}

export interface ShippingAddress {
  readonly line1: string;
  readonly line2: string | null;
  readonly city: string;
  readonly postalCode: string;
  readonly country: string;
}

/** A validated, normalised checkout request. */
export interface CheckoutRequest {
  readonly lines: ReadonlyArray<{ readonly productId: string; readonly quantity: number }>;
  readonly shippingAddress: ShippingAddress;
  readonly paymentToken: string;
  readonly idempotencyKey: string;
  /** SHA-256 of the normalised input: the same key with another hash is a CONFLICT. */
  readonly inputHash: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const CONTROL = /[\u0000-\u001f\u007f]/;

export function isUuid(value: string): boolean {
  return UUID.test(value);
}

function text(value: string | null | undefined, field: string, label: string, max: number, required: boolean): string | null {
  const v = (value ?? '').trim();
  if (!v) {
    if (required) throw badUserInput(field, `${label} is required.`);
    return null;
  }
  if (v.length > max) throw badUserInput(field, `${label} must be at most ${max} characters.`);
  if (CONTROL.test(v)) throw badUserInput(field, `${label} contains control characters.`);
  return v;
}

/** Validates and normalises a checkout request; throws BAD_USER_INPUT naming the first bad field. */
export function parseCheckout(input: PlaceOrderInput): CheckoutRequest {
  const key = parseIdempotencyKey(input.idempotencyKey, 'input.idempotencyKey');
  if (input.items.length === 0) throw badUserInput('input.items', 'Your cart is empty: add at least one item.');
  if (input.items.length > MAX_LINES) throw badUserInput('input.items', `An order has at most ${MAX_LINES} lines.`);
  const seen = new Set<string>();
  const lines = input.items.map((item, i) => {
    const productId = item.productId.trim().toLowerCase();
    if (!isUuid(productId)) throw badUserInput(`input.items[${i}].productId`, `Unknown product ${JSON.stringify(item.productId)}.`);
    if (seen.has(productId)) throw badUserInput(`input.items[${i}].productId`, 'This product appears twice: put the whole quantity on one line.');
    seen.add(productId);
    if (!Number.isInteger(item.quantity) || item.quantity < MIN_QUANTITY || item.quantity > MAX_QUANTITY) {
      throw badUserInput(`input.items[${i}].quantity`, `Quantity must be between ${MIN_QUANTITY} and ${MAX_QUANTITY}.`);
    }
    return { productId, quantity: item.quantity };
  });
  const shippingAddress = parseAddress(input.shippingAddress, 'input.shippingAddress');
  const paymentToken = text(input.payment.token, 'input.payment.token', 'Payment token', 255, true)!;
  const inputHash = createHash('sha256')
    .update(JSON.stringify({ lines: lines.map((l) => [l.productId, l.quantity]), shippingAddress, paymentToken }))
    .digest('hex');
  return { lines, shippingAddress, paymentToken, idempotencyKey: key, inputHash };
}

/** Validates and normalises a shipping address; BAD_USER_INPUT naming `${prefix}.<field>`. */
export function parseAddress(a: PlaceOrderInput['shippingAddress'], prefix: string): ShippingAddress {
  const country = (a.country ?? '').trim().toUpperCase();
  if (!/^[A-Z]{2}$/.test(country) || !isCountryCode(country)) {
    throw badUserInput(`${prefix}.country`, 'Country must be an ISO 3166-1 alpha-2 code such as "US" or "DE".');
  }
  const postalCode = text(a.postalCode, `${prefix}.postalCode`, 'Postal code', 16, true)!;
  if (!/^[A-Za-z0-9][A-Za-z0-9 -]*$/.test(postalCode)) throw badUserInput(`${prefix}.postalCode`, 'Postal code may contain only letters, digits, spaces and hyphens.');
  return {
    line1: text(a.line1, `${prefix}.line1`, 'Address line 1', 200, true)!,
    line2: text(a.line2, `${prefix}.line2`, 'Address line 2', 200, false),
    city: text(a.city, `${prefix}.city`, 'City', 100, true)!,
    postalCode: postalCode.toUpperCase(),
    country,
  };
}

/** An idempotency key: 1..255 printable characters. */
export function parseIdempotencyKey(key: string, field: string): string {
  if (!key || key.length > 255 || CONTROL.test(key)) throw badUserInput(field, 'idempotencyKey must be 1 to 255 printable characters.');
  return key;
}

/** A required trimmed text of at most `max` printable characters. */
export function requiredText(value: string | null | undefined, field: string, label: string, max: number): string {
  return text(value, field, label, max, true)!;
}
