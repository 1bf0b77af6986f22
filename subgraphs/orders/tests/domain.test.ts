import { parseCheckout } from '../src/domain/checkout';
import type { PlaceOrderInput } from '../src/domain/checkout';
import { fromCents, lineTotal, sum, toCents } from '../src/domain/money';
import { orderNumber } from '../src/domain/order-number';
import { assertTransition, canTransition, InvalidTransitionError, ORDER_STATUSES } from '../src/domain/order-status';

const PRODUCT = '0b6f3c56-1a2b-4c3d-8e9f-0123456789ab';
const valid: PlaceOrderInput = {
  items: [{ productId: PRODUCT, quantity: 2 }],
  shippingAddress: { line1: '1 Main St', line2: null, city: 'Springfield', postalCode: '12345', country: 'us' },
  payment: { token: 'tok_visa' },
  idempotencyKey: 'k-1',
};

function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return (error as { extensions?: { code?: string; field?: string } }).extensions?.code === 'BAD_USER_INPUT'
      ? (error as { extensions: { field: string } }).extensions.field
      : `unexpected: ${String(error)}`;
  }
  return undefined;
}

describe('the order status machine', () => {
  it('should allow exactly the transitions of the order lifecycle', () => {
    const allowed = ORDER_STATUSES.flatMap((from) => ORDER_STATUSES.filter((to) => canTransition(from, to)).map((to) => `${from}->${to}`));
    expect(allowed.sort()).toEqual(
      ['CONFIRMED->CANCELLED', 'CONFIRMED->SHIPPED', 'PENDING->CANCELLED', 'PENDING->CONFIRMED', 'PENDING->REJECTED', 'SHIPPED->DELIVERED'].sort(),
    );
  });

  it('should refuse impossible transitions with a clear error', () => {
    expect(() => assertTransition('PENDING', 'SHIPPED')).toThrow(InvalidTransitionError);
    expect(() => assertTransition('DELIVERED', 'CANCELLED')).toThrow('An order cannot go from DELIVERED to CANCELLED.');
    expect(() => assertTransition('REJECTED', 'CONFIRMED')).toThrow(InvalidTransitionError);
  });
});

describe('money in minor units', () => {
  it('should multiply and add decimal strings exactly', () => {
    expect(lineTotal('0.10', 3)).toBe('0.30');
    expect(lineTotal('19.99', 100)).toBe('1999.00');
    expect(sum(['0.10', '0.20'])).toBe('0.30');
    expect(fromCents(toCents('-1.5'))).toBe('-1.50');
    expect(() => toCents('1.999')).toThrow();
  });
});

describe('order numbers', () => {
  it('should be unique, short and free of ambiguous characters', () => {
    const numbers = new Set<string>();
    for (let n = 1; n <= 20_000; n++) numbers.add(orderNumber(n));
    expect(numbers.size).toBe(20_000);
    for (const n of [...numbers].slice(0, 50)) expect(n).toMatch(/^ORD-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/);
    // Consecutive orders do not look consecutive.
    expect(orderNumber(1).slice(0, 8)).not.toBe(orderNumber(2).slice(0, 8));
  });
});

describe('checkout input', () => {
  it('should normalise a valid request and hash it stably', () => {
    const a = parseCheckout(valid);
    expect(a.shippingAddress.country).toBe('US');
    expect(a.inputHash).toBe(parseCheckout({ ...valid, shippingAddress: { ...valid.shippingAddress, country: 'US ' } }).inputHash);
    expect(a.inputHash).not.toBe(parseCheckout({ ...valid, items: [{ productId: PRODUCT, quantity: 3 }] }).inputHash);
    expect(a.inputHash).not.toBe(parseCheckout({ ...valid, payment: { token: 'tok_mastercard' } }).inputHash);
  });

  it('should name the offending field of every invalid input', () => {
    const addr = valid.shippingAddress;
    expect(fieldOf(() => parseCheckout({ ...valid, items: [] }))).toBe('input.items');
    expect(fieldOf(() => parseCheckout({ ...valid, items: [{ productId: PRODUCT, quantity: 0 }] }))).toBe('input.items[0].quantity');
    expect(fieldOf(() => parseCheckout({ ...valid, items: [{ productId: PRODUCT, quantity: 101 }] }))).toBe('input.items[0].quantity');
    expect(fieldOf(() => parseCheckout({ ...valid, items: [{ productId: 'nope', quantity: 1 }] }))).toBe('input.items[0].productId');
    expect(fieldOf(() => parseCheckout({ ...valid, items: [{ productId: PRODUCT, quantity: 1 }, { productId: PRODUCT, quantity: 1 }] }))).toBe('input.items[1].productId');
    expect(fieldOf(() => parseCheckout({ ...valid, shippingAddress: { ...addr, line1: '  ' } }))).toBe('input.shippingAddress.line1');
    expect(fieldOf(() => parseCheckout({ ...valid, shippingAddress: { ...addr, city: '' } }))).toBe('input.shippingAddress.city');
    expect(fieldOf(() => parseCheckout({ ...valid, shippingAddress: { ...addr, postalCode: '12$45' } }))).toBe('input.shippingAddress.postalCode');
    expect(fieldOf(() => parseCheckout({ ...valid, shippingAddress: { ...addr, country: 'USA' } }))).toBe('input.shippingAddress.country');
    expect(fieldOf(() => parseCheckout({ ...valid, shippingAddress: { ...addr, country: 'XX' } }))).toBe('input.shippingAddress.country');
    expect(fieldOf(() => parseCheckout({ ...valid, payment: { token: '' } }))).toBe('input.payment.token');
    expect(fieldOf(() => parseCheckout({ ...valid, idempotencyKey: '' }))).toBe('input.idempotencyKey');
    expect(fieldOf(() => parseCheckout(valid))).toBeUndefined();
  });
});
