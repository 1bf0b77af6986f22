/**
 * Every setting the orders subgraph reads, parsed once by the platform: from the environment, or
 * from typed overrides in the embedded supergraph (tests pass e.g. `{ SAGA_TIMEOUT_MS: 2000 }`),
 * which win over the environment (so `FULFILMENT_SIMULATOR=true npm start` works).
 */
import type { SettingsOf } from '@shop/platform';
import type { NodeEnv } from '@shop/platform';
import { ConfigError, defineSettings, env, piiKeysSetting } from '@shop/platform';
import { z } from 'zod';
import { SANDBOX_DEVELOPMENT_WEBHOOK_SECRET } from './payments/sandbox-payment-provider';

/** A non-negative decimal number (minutes may be fractional, e.g. 0.5). */
const decimal = (fallback: number) => z.coerce.number().min(0).finite().default(fallback);

const ordersShape = {
  /** How long a saga may wait for inventory and the payment before it is rejected and compensated. Default 300000 (5 min). */
  SAGA_TIMEOUT_MS: env.int(300_000, 100),
  /** How often the saga timeout sweeper looks for overdue orders (one statement when none is). Default 5000 ms. */
  SAGA_SWEEP_INTERVAL_MS: env.int(5_000, 10),
  /** How long after placing an order its owner may cancel it. Default 30 (minutes, fractions allowed; 0 = never). */
  CANCELLATION_WINDOW_MINUTES: decimal(30),
  /** Which payment provider charges orders: `sandbox` (a test-mode gateway built in) or `stripe`. Default sandbox. */
  PAYMENT_PROVIDER: z.enum(['sandbox', 'stripe'], { message: 'expected sandbox or stripe' }).default('sandbox'),
  /** Stripe secret key (`sk_test_…`); required when PAYMENT_PROVIDER=stripe. */
  STRIPE_API_KEY: z.string().min(1).optional(),
  /** Stripe API base URL. Default https://api.stripe.com (point it at stripe-mock to test). */
  STRIPE_API_URL: env.url().default('https://api.stripe.com'),
  /** Issue 19: the signing secret of the payment webhook endpoint (`whsec_…` from Stripe's dashboard); required with stripe. Default: the sandbox's published development secret. */
  PAYMENT_WEBHOOK_SECRET: z.string().min(8, 'must be at least 8 characters').default(SANDBOX_DEVELOPMENT_WEBHOOK_SECRET),
  /** Oldest accepted webhook signature, in seconds (older deliveries are refused: replays of captured requests). Default 300. */
  PAYMENT_WEBHOOK_TOLERANCE_SECONDS: env.int(300, 1),
  /** Where the provider sends the customer back after a redirect-based 3-D Secure challenge (Stripe `return_url`); unset: the client completes it with Stripe.js and the client secret. */
  PAYMENT_RETURN_URL: env.url().optional(),
  /** Simulated latency of each sandbox call. Default 50 ms. */
  PAYMENT_SANDBOX_LATENCY_MS: env.int(50),
  /** Share of sandbox calls that fail as "provider unavailable" (0..1), for chaos testing. Default 0. */
  PAYMENT_SANDBOX_FAILURE_RATE: z.coerce.number().min(0).max(1).default(0),
  /** Time limit of one provider call. Default 5000 ms. */
  PAYMENT_TIMEOUT_MS: env.int(5_000, 1),
  /** Immediate retries of a failed provider call (safe: every call carries an idempotency key). Default 2. */
  PAYMENT_MAX_RETRIES: env.int(2),
  /** Consecutive provider failures that open the circuit breaker. Default 5. */
  PAYMENT_BREAKER_THRESHOLD: env.int(5, 1),
  /** How long the open circuit rejects calls before it lets one through. Default 10000 ms. */
  PAYMENT_BREAKER_HALF_OPEN_MS: env.int(10_000, 1),
  /** How often the payment worker looks for due work when nothing woke it (a lease left by a crash, another replica's rows). Default 5000 ms. */
  PAYMENT_WORKER_INTERVAL_MS: env.int(5_000, 10),
  /** Ships and delivers confirmed orders by itself after a delay (demo of live tracking). Default false. */
  FULFILMENT_SIMULATOR: env.bool(false),
  /** Simulator: time from confirmation to shipping. Default 10000 ms. */
  FULFILMENT_SHIP_AFTER_MS: env.int(10_000),
  /** Simulator: time from shipping to delivery. Default 20000 ms. */
  FULFILMENT_DELIVER_AFTER_MS: env.int(20_000),
  /** Days without activity after which a cart expires (fractions allowed). Default 7. */
  CART_TTL_DAYS: z.coerce.number().positive().finite().default(7),
  /** How often the sweep removes expired carts. Default 60000 ms. */
  CART_SWEEP_INTERVAL_MS: env.int(60_000, 10),
  /** Keys encrypting orders' personal data at rest (shipping copies, guests' e-mail addresses; `keyId:base64(32 bytes)[,…]`, the first encrypts), as users' PII_ENCRYPTION_KEYS; required in production. */
  PII_ENCRYPTION_KEYS: piiKeysSetting().optional(),
  /** Secret (≥ 32 characters) the guest order tokens are derived from (HMAC of the order id); required in production. */
  GUEST_ORDER_TOKEN_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  /** Where guest order links point (the storefront); the token is appended. */
  GUEST_ORDER_LINK_BASE: env.url().default('http://localhost:4000/orders/guest?token='),
  /** Issue 19: days after delivery during which the owner may request a return (fractions allowed; 0 = never). Default 30. */
  RETURN_WINDOW_DAYS: decimal(30),
  /** How often the return refund sweep retries refunds the provider could not make at once. Default 5000 ms. */
  RETURN_REFUND_INTERVAL_MS: env.int(5_000, 10),
  /** Fraud checks right before the charge (fraud/fraud-rules.ts); false turns every rule off. Default true. */
  FRAUD_CHECKS: env.bool(true),
  /** The window the fraud counts look back over. Default 60 (minutes). */
  FRAUD_WINDOW_MINUTES: decimal(60),
  /** More orders than this by one customer in the window → held for review. Default 50. */
  FRAUD_MAX_ORDERS_PER_WINDOW: env.int(50, 1),
  /** More declined payments than this for one customer in the window → rejected (FRAUD_REJECTED). Default 5. */
  FRAUD_MAX_DECLINES_PER_WINDOW: env.int(5, 0),
  /** An order above this amount (in its currency) from a new customer → held for review. Default 5000. */
  FRAUD_NEW_CUSTOMER_AMOUNT: decimal(5_000),
  /** A customer is new while their first order is younger than this. Default 7 (days). */
  FRAUD_NEW_CUSTOMER_DAYS: decimal(7),
  /** How long a held order waits for an admin before the saga rejects it (PAYMENT_TIMEOUT, stock released). Default 72 (hours). */
  FRAUD_REVIEW_HOURS: decimal(72),
};

/** The published development secret of guest order tokens (refused in production). */
export const DEVELOPMENT_GUEST_TOKEN_SECRET = 'development-only-guest-order-token-secret';

export const ordersSettings = defineSettings(ordersShape, (settings, nodeEnv: NodeEnv) => {
  if (settings.PAYMENT_PROVIDER === 'stripe' && !settings.STRIPE_API_KEY) {
    throw new ConfigError('Invalid configuration: STRIPE_API_KEY: required when PAYMENT_PROVIDER=stripe (it is not set)');
  }
  if (settings.PAYMENT_PROVIDER === 'stripe' && settings.PAYMENT_WEBHOOK_SECRET === SANDBOX_DEVELOPMENT_WEBHOOK_SECRET) {
    throw new ConfigError('Invalid configuration: PAYMENT_WEBHOOK_SECRET: the signing secret of the webhook endpoint is required when PAYMENT_PROVIDER=stripe (it is not set)');
  }
  if (nodeEnv !== 'production') return;
  // The same rule as users': production needs its own PII keys (and its own token secret).
  if (!settings.PII_ENCRYPTION_KEYS) throw new ConfigError('Invalid configuration: PII_ENCRYPTION_KEYS: required in production (it is not set)');
  if (/^dev:/.test(settings.PII_ENCRYPTION_KEYS)) throw new ConfigError('Invalid configuration: PII_ENCRYPTION_KEYS: the development key must not be used in production');
  if (!settings.GUEST_ORDER_TOKEN_SECRET || settings.GUEST_ORDER_TOKEN_SECRET === DEVELOPMENT_GUEST_TOKEN_SECRET) {
    throw new ConfigError('Invalid configuration: GUEST_ORDER_TOKEN_SECRET: required in production (it is not set)');
  }
});
export type OrdersSettings = SettingsOf<typeof ordersShape>;
