/**
 * The composition root of the orders service: settings, repository, payment provider with its
 * policies, payment worker, transitions, the live pub/sub and the service, built once per running
 * service and shared by the context, the consumers, the live feed and the background jobs.
 */
import type { ServiceDeps } from '@shop/platform';
import { DEVELOPMENT_PII_KEYS, LivePubSub, PiiCipher } from '@shop/platform';
import { CartService } from './carts/cart.service';
import { CartsRepository } from './persistence/carts.repository';
import type { OrdersSettings } from './config';
import { ordersMetrics } from './metrics';
import type { OrdersMetrics } from './metrics';
import { OrdersService } from './orders.service';
import type { PaymentProvider } from './payments/payment-provider';
import { PaymentWebhooks } from './payments/payment-webhooks';
import { PaymentWorker } from './payments/payment-worker';
import { ResilientPaymentProvider } from './payments/resilient-payment-provider';
import { SandboxPaymentProvider } from './payments/sandbox-payment-provider';
import { StripePaymentProvider } from './payments/stripe-payment-provider';
import { OrdersRepository } from './persistence/orders.repository';
import { OrderTransitions } from './saga/order-transitions';
import { ShippingPrivacy } from './privacy/shipping-privacy';
import type { SalesReportParts } from './reports/sales-report';
import { salesReportParts } from './reports/sales-report';
import type { OrderStatus } from './domain/order-status';
import { FraudChecks } from './fraud/fraud-checks';
import { ReturnsService } from './returns/returns.service';

/** What the orders live pub/sub carries for one change of an order. */
export interface OrderChange {
  readonly orderId: string;
  readonly userId: string;
  /** The status the event announces (a refund leaves the order CANCELLED). */
  readonly status: OrderStatus;
}

/** The live topics of orders' subscriptions, fed from the order events. */
export interface OrdersTopics {
  readonly 'order-changed': OrderChange;
}

export interface OrdersParts {
  readonly deps: ServiceDeps;
  readonly settings: OrdersSettings;
  readonly repo: OrdersRepository;
  readonly service: OrdersService;
  readonly transitions: OrderTransitions;
  readonly payments: PaymentWorker;
  readonly provider: ResilientPaymentProvider;
  readonly metrics: OrdersMetrics;
  readonly live: LivePubSub<OrdersTopics>;
  /** Encryption and erasure of the shipping copies (issue 20). */
  readonly privacy: ShippingPrivacy;
  /** Issue 18: carts, pricing, checkout, guest orders. */
  readonly carts: CartService;
  /** The sales report's read model, consumers and query (reports/sales-report.ts). */
  readonly salesReport: SalesReportParts;
  /** Issue 19: returns of delivered orders and their refunds (returns/). */
  readonly returns: ReturnsService;
  /** Issue 19: the fraud rules before the charge and the review of held orders (fraud/). */
  readonly fraud: FraudChecks;
  /** Issue 19: the provider's webhooks (endpoint and saga step). */
  readonly webhooks: PaymentWebhooks;
  /** The sandbox behind the policies outside production (the dev-only challenge route), else null. */
  readonly devSandbox: SandboxPaymentProvider | null;
}

export interface OrdersOptions {
  /** The payment provider behind the policies. Default: from PAYMENT_PROVIDER (the sandbox). */
  readonly paymentProvider?: (settings: OrdersSettings) => PaymentProvider;
}

/** The provider PAYMENT_PROVIDER names. */
function configuredProvider(settings: OrdersSettings): PaymentProvider {
  const webhooks = { secret: settings.PAYMENT_WEBHOOK_SECRET, toleranceSeconds: settings.PAYMENT_WEBHOOK_TOLERANCE_SECONDS };
  if (settings.PAYMENT_PROVIDER === 'stripe') {
    return new StripePaymentProvider({ apiKey: settings.STRIPE_API_KEY!, baseUrl: settings.STRIPE_API_URL, webhooks, timeoutMs: settings.PAYMENT_TIMEOUT_MS, ...(settings.PAYMENT_RETURN_URL ? { returnUrl: settings.PAYMENT_RETURN_URL } : {}) });
  }
  return new SandboxPaymentProvider({ latencyMs: settings.PAYMENT_SANDBOX_LATENCY_MS, failureRate: settings.PAYMENT_SANDBOX_FAILURE_RATE, webhooks });
}

/** Builds the parts of one running orders service (`options` swap the payment provider in tests). */
export function setupOrders(deps: ServiceDeps, settings: OrdersSettings, options: OrdersOptions = {}): OrdersParts {
  const metrics = ordersMetrics();
  metrics.circuitOpen.set(0);
  // Every series of the checkout panels exists from the start (0, bounded labels).
  for (const kind of ['guest', 'user']) metrics.cartsCreated.inc({ kind }, 0);
  for (const guest of ['true', 'false']) {
    metrics.checkoutsStarted.inc({ guest }, 0);
    metrics.checkoutsCompleted.inc({ guest }, 0);
  }
  metrics.checkoutValue.inc({ currency: 'USD' }, 0);
  for (const outcome of ['accepted', 'duplicate', 'ignored', 'unsigned', 'bad_signature']) metrics.webhooks.inc({ outcome }, 0);
  const inner = options.paymentProvider?.(settings) ?? configuredProvider(settings);
  const provider = new ResilientPaymentProvider(inner, {
    timeoutMs: settings.PAYMENT_TIMEOUT_MS,
    maxRetries: settings.PAYMENT_MAX_RETRIES,
    breakerThreshold: settings.PAYMENT_BREAKER_THRESHOLD,
    halfOpenAfterMs: settings.PAYMENT_BREAKER_HALF_OPEN_MS,
    onAttempt: (operation, outcome, seconds) => metrics.paymentAttempts.observe({ operation, outcome }, seconds),
    onCircuitChange: (open) => {
      metrics.circuitOpen.set(open ? 1 : 0);
      deps.logger.warn({ open }, open ? 'payment provider circuit opened' : 'payment provider circuit closed');
    },
  });
  if (!settings.PII_ENCRYPTION_KEYS) deps.logger.warn('orders: PII_ENCRYPTION_KEYS is not set: shipping copies and guest e-mails are encrypted with the published DEVELOPMENT key (never do this in production)');
  // Personal data at rest (shipping copies, guests' e-mail addresses); the development key outside production only.
  const cipher = new PiiCipher(settings.PII_ENCRYPTION_KEYS ?? DEVELOPMENT_PII_KEYS);
  const privacy = new ShippingPrivacy(cipher);
  const repo = new OrdersRepository(deps.dataSource, privacy);
  const transitions = new OrderTransitions(deps, repo, metrics);
  // A lease outlasts one provider call with all its retries (and their backoff), plus a margin.
  const leaseMs = settings.PAYMENT_TIMEOUT_MS * (settings.PAYMENT_MAX_RETRIES + 1) + 2_000 * settings.PAYMENT_MAX_RETRIES + 5_000;
  const payments = new PaymentWorker(deps, repo, provider, transitions, metrics, { intervalMs: settings.PAYMENT_WORKER_INTERVAL_MS, leaseMs, screen: (p) => fraud.screen(p) });
  const fraud = new FraudChecks(deps, repo, transitions, settings, () => payments.wake());
  const service = new OrdersService(deps, repo, transitions, payments, provider.name, settings, metrics);
  const carts = new CartService(deps, new CartsRepository(privacy), repo, service, settings, metrics, cipher);
  const webhooks = new PaymentWebhooks(deps, repo, provider, transitions, payments, metrics);
  const devSandbox = deps.nodeEnv !== 'production' && inner instanceof SandboxPaymentProvider ? inner : null;
  return { deps, settings, repo, service, transitions, payments, provider, metrics, live: new LivePubSub<OrdersTopics>(), privacy, carts, salesReport: salesReportParts(deps), returns: new ReturnsService(deps, repo, provider, settings), fraud, webhooks, devSandbox };
}
