/**
 * Fraud rules (issue 19): simple, explainable, evaluated right before the charge on a few counts
 * read in one statement. Each rule that fires names itself (a reason code) and the numbers that
 * made it fire; the strictest outcome wins (reject over hold).
 *
 * - DECLINED_ATTEMPTS: more than FRAUD_MAX_DECLINES_PER_WINDOW of the customer's orders placed in
 *   the last FRAUD_WINDOW_MINUTES were declined by the provider → reject (card testing).
 * - ORDER_VELOCITY: more than FRAUD_MAX_ORDERS_PER_WINDOW orders by the customer in the window
 *   (this one included) → hold for review.
 * - NEW_CUSTOMER_AMOUNT: the order's total is above FRAUD_NEW_CUSTOMER_AMOUNT and the customer's
 *   first order is younger than FRAUD_NEW_CUSTOMER_DAYS → hold. Orders does not know when an
 *   account was created (users does); a customer is "new" to the shop's order history.
 */
import type { OrdersSettings } from '../config';
import { toCents } from '../domain/money';

/** The reason codes (also metric labels: a closed set). */
export const FraudRule = {
  DeclinedAttempts: 'DECLINED_ATTEMPTS',
  OrderVelocity: 'ORDER_VELOCITY',
  NewCustomerAmount: 'NEW_CUSTOMER_AMOUNT',
  /** An admin rejected a held order. */
  AdminRejected: 'ADMIN_REJECTED',
} as const;
export type FraudRule = (typeof FraudRule)[keyof typeof FraudRule];

/** What the rules look at, for one order of one customer. */
export interface FraudFacts {
  /** Orders by the customer placed in the window, this one included. */
  readonly ordersInWindow: number;
  /** Of those, declined by the provider. */
  readonly declinedInWindow: number;
  /** When the customer placed their first order. */
  readonly firstOrderAt: Date;
  /** The order's total (decimal string). */
  readonly amount: string;
}

export type FraudDecision = { readonly outcome: 'allow' } | { readonly outcome: 'hold' | 'reject'; readonly rule: FraudRule; readonly detail: string };

type FraudSettings = Pick<OrdersSettings, 'FRAUD_WINDOW_MINUTES' | 'FRAUD_MAX_ORDERS_PER_WINDOW' | 'FRAUD_MAX_DECLINES_PER_WINDOW' | 'FRAUD_NEW_CUSTOMER_AMOUNT' | 'FRAUD_NEW_CUSTOMER_DAYS'>;

export function evaluateFraud(facts: FraudFacts, settings: FraudSettings, now: Date): FraudDecision {
  const window = `${settings.FRAUD_WINDOW_MINUTES} min`;
  if (facts.declinedInWindow > settings.FRAUD_MAX_DECLINES_PER_WINDOW) {
    return { outcome: 'reject', rule: FraudRule.DeclinedAttempts, detail: `${facts.declinedInWindow} declined payments in ${window} (limit ${settings.FRAUD_MAX_DECLINES_PER_WINDOW})` };
  }
  if (facts.ordersInWindow > settings.FRAUD_MAX_ORDERS_PER_WINDOW) {
    return { outcome: 'hold', rule: FraudRule.OrderVelocity, detail: `${facts.ordersInWindow} orders in ${window} (limit ${settings.FRAUD_MAX_ORDERS_PER_WINDOW})` };
  }
  const customerDays = (now.getTime() - facts.firstOrderAt.getTime()) / 86_400_000;
  const threshold = toCents(settings.FRAUD_NEW_CUSTOMER_AMOUNT.toFixed(2));
  if (customerDays < settings.FRAUD_NEW_CUSTOMER_DAYS && toCents(facts.amount) > threshold) {
    return { outcome: 'hold', rule: FraudRule.NewCustomerAmount, detail: `${facts.amount} from a customer whose first order is ${customerDays.toFixed(1)} days old (limit ${settings.FRAUD_NEW_CUSTOMER_AMOUNT.toFixed(2)} for ${settings.FRAUD_NEW_CUSTOMER_DAYS} days)` };
  }
  return { outcome: 'allow' };
}
