/** The pricing function (issue 18): every rule of domain/pricing.ts against hand-computed amounts, in minor units. */
import type { PricingCoupon, PricingInput, PricingLine } from '../src/domain/pricing';
import { applyRate, formatMinor, formatPpm, parseScaled, priceCart } from '../src/domain/pricing';

const now = new Date('2026-12-01T12:00:00Z');
const line = (id: string, priceMinor: bigint, quantity: number, extra: Partial<PricingLine> = {}): PricingLine => ({
  id,
  productId: `p-${id}`,
  quantity,
  addedPriceMinor: priceMinor,
  currencyCode: 'USD',
  product: { name: `Product ${id}`, priceMinor, currencyCode: 'USD', deleted: false },
  available: 100,
  ...extra,
});
const coupon = (over: Partial<PricingCoupon>): PricingCoupon => ({
  id: 'c', code: 'C', kind: 'PERCENT', percentPpm: 100_000n, fixedMinor: null, currencyCode: 'USD', minSubtotalMinor: null, validFrom: null, validUntil: null,
  maxRedemptions: null, maxRedemptionsPerCustomer: null, redemptions: 0, customerRedemptions: 0, ...over,
});
const standard = { id: 'm', name: 'Standard', priceMinor: 499n, freeOverMinor: 5000n, currencyCode: 'USD', countries: ['US'] };
const price = (over: Partial<PricingInput>) => {
  const b = priceCart({ lines: [], coupons: [], shippingMethod: null, country: null, taxPpm: 0n, now, ...over });
  return { subtotal: formatMinor(b.subtotal), discount: formatMinor(b.discount), shipping: b.shipping === null ? null : formatMinor(b.shipping), tax: formatMinor(b.tax), total: formatMinor(b.total), problems: b.problems.map((p) => p.code) };
};

describe('pricing', () => {
  it('should round a rate half up to the cent, once', () => {
    expect(applyRate(500n, 125_000n)).toBe(63n); // 0.625 → 0.63
    expect(applyRate(5000n, 82_500n)).toBe(413n); // 4.125 → 4.13
    expect(applyRate(4331n, 100_000n)).toBe(433n); // 4.331 → 4.33
    expect(applyRate(0n, 200_000n)).toBe(0n);
  });

  it('should parse and format decimals exactly (no float)', () => {
    expect(parseScaled('0.0825', 6)).toBe(82_500n);
    expect(parseScaled('12.5', 4)).toBe(125_000n);
    expect(parseScaled('1.999', 2)).toBeNull();
    expect(parseScaled('-1', 2)).toBeNull();
    expect(formatPpm(200_000n)).toBe('0.2');
    expect(formatMinor(12n)).toBe('0.12');
  });

  it('should compute subtotal, discount, shipping (free over), tax on the discounted amount plus shipping, and the total', () => {
    const lines = [line('a', 1999n, 2), line('c', 333n, 1)];
    expect(price({ lines, coupons: [coupon({})], shippingMethod: standard, country: 'US', taxPpm: 82_500n })).toEqual({ subtotal: '43.31', discount: '4.33', shipping: '4.99', tax: '3.63', total: '47.60', problems: [] });
    expect(price({ lines: [line('b', 500n, 10)], shippingMethod: standard, country: 'US', taxPpm: 82_500n })).toMatchObject({ shipping: '0.00', tax: '4.13', total: '54.13' });
    // The threshold counts after the discount: 50.00 − 10 % = 45.00 < 50 → shipping charged.
    expect(price({ lines: [line('b', 500n, 10)], coupons: [coupon({})], shippingMethod: standard, country: 'US', taxPpm: 0n })).toMatchObject({ discount: '5.00', shipping: '4.99', total: '49.99' });
  });

  it('should cap the discount at the subtotal and leave shipping null without a method or for a country it does not serve', () => {
    expect(price({ lines: [line('a', 300n, 1)], coupons: [coupon({ kind: 'FIXED', percentPpm: null, fixedMinor: 500n })] })).toMatchObject({ subtotal: '3.00', discount: '3.00', total: '0.00' });
    expect(price({ lines: [line('a', 300n, 1)], shippingMethod: standard, country: 'DE', taxPpm: 190_000n })).toMatchObject({ shipping: null, tax: '0.57' });
  });

  it('should name the problems: stock, price change, deleted product, coupons that no longer apply', () => {
    const problems = price({
      lines: [
        line('out', 100n, 1, { available: 0 }),
        line('few', 100n, 5, { available: 2 }),
        line('moved', 100n, 1, { addedPriceMinor: 90n }),
        line('gone', 100n, 1, { product: { name: 'x', priceMinor: 100n, currencyCode: 'USD', deleted: true } }),
        line('unknown-stock', 100n, 5, { available: null }),
      ],
      coupons: [
        coupon({ code: 'OLD', validUntil: new Date(now.getTime() - 1) }),
        coupon({ code: 'SOON', validFrom: new Date(now.getTime() + 1) }),
        coupon({ code: 'USED', maxRedemptions: 3, redemptions: 3 }),
        coupon({ code: 'MINE', maxRedemptionsPerCustomer: 1, customerRedemptions: 1 }),
        coupon({ code: 'MIN', minSubtotalMinor: 10_000n }),
        coupon({ code: 'EUR', currencyCode: 'EUR' }),
      ],
      unknownCodes: ['DELETED'],
    }).problems;
    expect(problems.sort()).toEqual(['COUPON_INVALID', 'COUPON_INVALID', 'COUPON_INVALID', 'COUPON_INVALID', 'COUPON_INVALID', 'COUPON_INVALID', 'COUPON_INVALID', 'INSUFFICIENT_STOCK', 'OUT_OF_STOCK', 'PRICE_CHANGED', 'PRODUCT_UNAVAILABLE']);
  });
});
