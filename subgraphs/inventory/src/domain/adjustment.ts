import type { StockState } from './stock-level';

/** The largest stock a Postgres `int` column (and a GraphQL Int) can hold. */
export const MAX_STOCK = 2_147_483_647;

/** Longest adjustment reason kept in the audit trail. */
export const MAX_REASON_LENGTH = 500;

export type AdjustmentPlan =
  | { readonly ok: true; readonly onHand: number }
  /** `below-reserved`: on-hand stock would fall under what orders hold; `negative`: under zero; `too-large`: over MAX_STOCK. */
  | { readonly ok: false; readonly problem: 'below-reserved' | 'negative' | 'too-large' };

/**
 * The on-hand stock after an admin adjustment of `delta`, or why it is refused: stock reserved by
 * orders must stay covered, so on-hand may never fall below reserved (nor below zero).
 */
export function planAdjustment(state: Pick<StockState, 'onHand' | 'reserved'>, delta: number): AdjustmentPlan {
  const onHand = state.onHand + delta;
  if (onHand < 0) return { ok: false, problem: 'negative' };
  if (onHand < state.reserved) return { ok: false, problem: 'below-reserved' };
  if (onHand > MAX_STOCK) return { ok: false, problem: 'too-large' };
  return { ok: true, onHand };
}
