import { planAdjustment } from '../src/domain/adjustment';
import { normalizeLines, planReservation } from '../src/domain/reservation';
import type { StockState } from '../src/domain/stock-level';
import { crossedIntoLowStock, toStockLevel } from '../src/domain/stock-level';

const A = '00000000-0000-4000-8000-00000000000a';
const B = '00000000-0000-4000-8000-00000000000b';
const C = '00000000-0000-4000-8000-00000000000c';

function state(onHand: number, reserved: number, lowStockThreshold: number, closed = false): StockState {
  return { productId: A, onHand, reserved, lowStockThreshold, version: 1, updatedAt: new Date(0), closedAt: closed ? new Date(0) : null };
}

describe('normalizeLines', () => {
  it('should merge the lines of one product and sort by product id, whatever the order given', () => {
    expect(
      normalizeLines([
        { productId: C, quantity: 1 },
        { productId: A.toUpperCase(), quantity: 2 },
        { productId: B, quantity: 1 },
        { productId: A, quantity: 3 },
      ]),
    ).toEqual([
      { productId: A, quantity: 5 },
      { productId: B, quantity: 1 },
      { productId: C, quantity: 1 },
    ]);
  });

  it('should give two orders naming the same products in opposite order the same lock order', () => {
    const one = normalizeLines([{ productId: B, quantity: 1 }, { productId: A, quantity: 1 }]).map((l) => l.productId);
    const other = normalizeLines([{ productId: A, quantity: 1 }, { productId: B, quantity: 1 }]).map((l) => l.productId);
    expect(one).toEqual(other);
  });
});

describe('planReservation', () => {
  it('should reserve every line when each has enough available', () => {
    const lines = [{ productId: A, quantity: 2 }, { productId: B, quantity: 1 }];
    expect(planReservation(lines, new Map([[A, 2], [B, 5]]))).toEqual({ kind: 'reserve', lines });
  });

  it('should reject with every line that falls short, unknown products having 0 available', () => {
    const plan = planReservation(
      [{ productId: A, quantity: 3 }, { productId: B, quantity: 1 }, { productId: C, quantity: 1 }],
      new Map([[A, 2], [B, 1]]),
    );
    expect(plan).toEqual({
      kind: 'reject',
      shortages: [
        { productId: A, requested: 3, available: 2 },
        { productId: C, requested: 1, available: 0 },
      ],
    });
  });
});

describe('crossedIntoLowStock', () => {
  it('should be true only when available falls to or below the threshold from above', () => {
    expect(crossedIntoLowStock(state(10, 6, 3), state(10, 7, 3))).toBe(true); // 4 -> 3
    expect(crossedIntoLowStock(state(10, 7, 3), state(10, 8, 3))).toBe(false); // 3 -> 2: already low
    expect(crossedIntoLowStock(state(10, 5, 3), state(10, 6, 3))).toBe(false); // 5 -> 4: still above
    expect(crossedIntoLowStock(state(10, 7, 3), state(10, 6, 3))).toBe(false); // rising
  });

  it('should count a raised threshold that the available stock no longer clears as a crossing', () => {
    expect(crossedIntoLowStock(state(10, 0, 5), state(10, 0, 10))).toBe(true);
  });

  it('should never alert for a closed product', () => {
    expect(crossedIntoLowStock(state(10, 6, 3, true), state(10, 7, 3, true))).toBe(false);
  });
});

describe('toStockLevel', () => {
  it('should derive available and isLowStock', () => {
    expect(toStockLevel(state(10, 4, 6))).toMatchObject({ available: 6, isLowStock: true });
    expect(toStockLevel(state(10, 4, 5))).toMatchObject({ available: 6, isLowStock: false });
  });
});

describe('planAdjustment', () => {
  it('should add and remove stock that orders do not hold', () => {
    expect(planAdjustment({ onHand: 10, reserved: 4 }, 5)).toEqual({ ok: true, onHand: 15 });
    expect(planAdjustment({ onHand: 10, reserved: 4 }, -6)).toEqual({ ok: true, onHand: 4 });
  });

  it('should refuse to leave on-hand stock below what is reserved or below zero', () => {
    expect(planAdjustment({ onHand: 10, reserved: 4 }, -7)).toEqual({ ok: false, problem: 'below-reserved' });
    expect(planAdjustment({ onHand: 3, reserved: 0 }, -4)).toEqual({ ok: false, problem: 'negative' });
  });

  it('should refuse stock beyond what an int column holds', () => {
    expect(planAdjustment({ onHand: 2_000_000_000, reserved: 0 }, 200_000_000)).toEqual({ ok: false, problem: 'too-large' });
  });
});
