/**
 * Wires one running orders service: settings, repository, payment provider with its policies,
 * payment worker, transitions and the service. One runtime per ServiceDeps (a restarted service
 * gets a fresh one), shared by the consumers, the resolvers and the background jobs.
 */
import type { ServiceDeps } from '@shop/platform';
import type { OrdersSettings } from './config';
import { parseOrdersSettings } from './config';
import { ordersMetrics } from './metrics';
import type { OrdersMetrics } from './metrics';
import { OrdersService } from './orders.service';
import type { PaymentProvider } from './payments/payment-provider';
import { PaymentWorker } from './payments/payment-worker';
import { ResilientPaymentProvider } from './payments/resilient-payment-provider';
import { SandboxPaymentProvider } from './payments/sandbox-payment-provider';
import { StripePaymentProvider } from './payments/stripe-payment-provider';
import { installAfterCommitHooks } from './persistence/after-commit';
import { OrdersRepository } from './persistence/orders.repository';
import { OrderTransitions } from './saga/order-transitions';

export interface OrdersRuntime {
  readonly settings: OrdersSettings;
  readonly repo: OrdersRepository;
  readonly service: OrdersService;
  readonly transitions: OrderTransitions;
  readonly payments: PaymentWorker;
  readonly provider: ResilientPaymentProvider;
  readonly metrics: OrdersMetrics;
}

export interface OrdersRuntimeOptions {
  /** The payment provider behind the policies. Default: from PAYMENT_PROVIDER (the sandbox). */
  readonly paymentProvider?: (settings: OrdersSettings) => PaymentProvider;
}

/** The provider PAYMENT_PROVIDER names. */
function configuredProvider(settings: OrdersSettings): PaymentProvider {
  if (settings.PAYMENT_PROVIDER === 'stripe') return new StripePaymentProvider({ apiKey: settings.STRIPE_API_KEY!, baseUrl: settings.STRIPE_API_URL });
  return new SandboxPaymentProvider({ latencyMs: settings.PAYMENT_SANDBOX_LATENCY_MS, failureRate: settings.PAYMENT_SANDBOX_FAILURE_RATE });
}

const runtimes = new WeakMap<ServiceDeps, OrdersRuntime>();

/** The runtime of a running service, created on first use. */
export function runtimeFor(deps: ServiceDeps, options: OrdersRuntimeOptions = {}): OrdersRuntime {
  const existing = runtimes.get(deps);
  if (existing) return existing;
  const settings = parseOrdersSettings(deps.settings.extra);
  const metrics = ordersMetrics();
  metrics.circuitOpen.set(0);
  installAfterCommitHooks(deps.dataSource, (err) => deps.logger.error({ err }, 'after-commit hook failed'));
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
  const repo = new OrdersRepository(deps.dataSource);
  const transitions = new OrderTransitions(deps, repo, metrics);
  // A lease outlasts one provider call with all its retries (and their backoff), plus a margin.
  const leaseMs = settings.PAYMENT_TIMEOUT_MS * (settings.PAYMENT_MAX_RETRIES + 1) + 2_000 * settings.PAYMENT_MAX_RETRIES + 5_000;
  const payments = new PaymentWorker(deps, repo, provider, transitions, metrics, { intervalMs: settings.PAYMENT_WORKER_INTERVAL_MS, leaseMs });
  const service = new OrdersService(deps, repo, transitions, payments, provider.name, settings, metrics);
  const runtime: OrdersRuntime = { settings, repo, service, transitions, payments, provider, metrics };
  runtimes.set(deps, runtime);
  return runtime;
}
