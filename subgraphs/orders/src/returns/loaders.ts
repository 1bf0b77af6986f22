/** Per-request DataLoaders of issue 19's fields: `Order.returns`, `Payment.refundedAmount`, `Order.fraudReview` (no N+1). */
import DataLoader from 'dataloader';
import type { FraudReviewRow } from '../fraud/fraud-checks';
import type { OrdersParts } from '../setup';
import type { ReturnRow } from './returns.repository';

export function createReturnLoaders(parts: Pick<OrdersParts, 'returns' | 'fraud'>) {
  return {
    returns: new DataLoader<string, ReturnRow[]>((ids) => parts.returns.repo.findByOrderIds(ids)),
    refunded: new DataLoader<string, string | null>((ids) => parts.returns.repo.refundedAmounts(ids)),
    fraudReview: new DataLoader<string, FraudReviewRow | null>((ids) => parts.fraud.reviews(ids)),
  };
}
export type ReturnLoaders = ReturnType<typeof createReturnLoaders>;
