/** Issue 19: the refund share of returns (cents, cumulative floor) and the fraud rules, against hand-computed figures. */
import { evaluateFraud } from '../src/fraud/fraud-rules';
import { goodsPool, returnRefund } from '../src/returns/refund-share';
import { SandboxPaymentProvider } from '../src/payments/sandbox-payment-provider';

const amounts = (subtotal: bigint, discount = 0n, shipping = 0n, tax = 0n) => ({ subtotal, discount, shipping, tax });

describe('return refund share', () => {
  it('should refund exactly the lines when there is no discount, shipping or tax', () => {
    const order = amounts(5300n); // 3 × 12.34 + 2 × 7.99
    expect(returnRefund(order, 0n, 2468n)).toBe(2468n);
    expect(returnRefund(order, 2468n, 2832n)).toBe(2832n);
  });

  it('should include the lines’ share of the discount and of the tax, but not shipping', () => {
    // subtotal 100.00, 10 % coupon → 90.00, shipping 4.99, tax 8.25 % of 94.99 = 7.84 (7.836 half up), total 102.83.
    const order = amounts(10_000n, 1_000n, 499n, 784n);
    // Goods' tax share: floor(784 × 9000 / 9499) = floor(742.81…) = 742; pool 9742.
    expect(goodsPool(order)).toBe(9_742n);
    // A line worth 30.00 of the 100.00: floor(9742 × 3000 / 10000) = floor(2922.6) = 2922.
    expect(returnRefund(order, 0n, 3_000n)).toBe(2_922n);
  });

  it('should never refund more than the pool, in any order and however the units are split, and refund all of it when everything comes back', () => {
    const order = amounts(999n, 333n, 0n, 67n); // awkward numbers: every share rounds
    const pool = goodsPool(order);
    const unit = 111n; // 9 units of 1.11
    let returned = 0n;
    let refunded = 0n;
    for (let i = 0; i < 9; i++) {
      refunded += returnRefund(order, returned, unit);
      returned += unit;
      expect(refunded).toBeLessThanOrEqual(pool);
    }
    expect(refunded).toBe(pool);
    // Returns worth more than the subtotal (cannot happen: quantities are checked) are capped anyway.
    expect(returnRefund(order, returned, unit)).toBe(0n);
  });

  it('should refund nothing for free goods', () => {
    expect(returnRefund(amounts(1_000n, 1_000n), 0n, 500n)).toBe(0n);
    expect(returnRefund(amounts(0n), 0n, 0n)).toBe(0n);
  });
});

describe('fraud rules', () => {
  const settings = { FRAUD_WINDOW_MINUTES: 60, FRAUD_MAX_ORDERS_PER_WINDOW: 5, FRAUD_MAX_DECLINES_PER_WINDOW: 2, FRAUD_NEW_CUSTOMER_AMOUNT: 500, FRAUD_NEW_CUSTOMER_DAYS: 7 };
  const now = new Date('2026-12-01T12:00:00Z');
  const old = new Date('2026-01-01T00:00:00Z');

  it('should allow ordinary orders', () => {
    expect(evaluateFraud({ ordersInWindow: 5, declinedInWindow: 2, firstOrderAt: now, amount: '500.00' }, settings, now)).toEqual({ outcome: 'allow' });
  });

  it('should reject after too many declines, before any other rule', () => {
    const d = evaluateFraud({ ordersInWindow: 9, declinedInWindow: 3, firstOrderAt: now, amount: '900.00' }, settings, now);
    expect(d).toMatchObject({ outcome: 'reject', rule: 'DECLINED_ATTEMPTS' });
  });

  it('should hold too many orders in the window', () => {
    expect(evaluateFraud({ ordersInWindow: 6, declinedInWindow: 0, firstOrderAt: old, amount: '1.00' }, settings, now)).toMatchObject({ outcome: 'hold', rule: 'ORDER_VELOCITY', detail: '6 orders in 60 min (limit 5)' });
  });

  it('should hold a large amount from a new customer only', () => {
    expect(evaluateFraud({ ordersInWindow: 1, declinedInWindow: 0, firstOrderAt: now, amount: '500.01' }, settings, now)).toMatchObject({ outcome: 'hold', rule: 'NEW_CUSTOMER_AMOUNT' });
    expect(evaluateFraud({ ordersInWindow: 1, declinedInWindow: 0, firstOrderAt: old, amount: '5000.00' }, settings, now)).toEqual({ outcome: 'allow' });
  });
});

describe('sandbox partial refunds', () => {
  it('should refund parts of a charge once per key and refuse more than is left', async () => {
    const sandbox = new SandboxPaymentProvider({ latencyMs: 0 });
    const charge = await sandbox.charge({ idempotencyKey: 'k', amount: '10.00', currencyCode: 'USD', token: 'tok_visa', orderId: 'o' });
    if (charge.outcome !== 'approved') throw new Error('not approved');
    const first = await sandbox.refund({ idempotencyKey: 'r1', chargeId: charge.chargeId, amount: '4.00' });
    expect(await sandbox.refund({ idempotencyKey: 'r1', chargeId: charge.chargeId, amount: '4.00' })).toEqual(first);
    await expect(sandbox.refund({ idempotencyKey: 'r2', chargeId: charge.chargeId, amount: '6.01' })).rejects.toThrow(/6\.00 left/);
    await sandbox.refund({ idempotencyKey: 'r3', chargeId: charge.chargeId }); // the rest
    expect(sandbox.chargesOf('o')[0]).toMatchObject({ refunded: true, refundedAmount: '10.00' });
    await expect(sandbox.refund({ idempotencyKey: 'r4', chargeId: charge.chargeId, amount: '0.01' })).rejects.toThrow(/0\.00 left/);
  });
});
