/**
 * Wraps a PaymentProvider in cockatiel policies: per call a timeout, around it a circuit breaker
 * (a provider that keeps failing is left alone for a while instead of being hammered), and
 * outermost a few quick retries with exponential backoff.
 *
 * Retrying is safe for every operation of the port: charges and refunds carry idempotency keys
 * and `findCharge` is a read. Declines are answers, never retried. An open circuit is not retried
 * either: the payment worker reschedules the work with its own, longer backoff.
 */
import { circuitBreaker, CircuitState, ConsecutiveBreaker, ExponentialBackoff, handleWhen, retry, TaskCancelledError, timeout, TimeoutStrategy, wrap } from 'cockatiel';
import type { IPolicy } from 'cockatiel';
import type { ChargeRequest, ChargeResult, PaymentProvider, PaymentWebhookEvent, RefundRequest, RefundResult } from './payment-provider';
import { PaymentProviderUnavailableError } from './payment-provider';

export interface ResilienceOptions {
  /** Time limit of one attempt. Default 5000 ms. */
  readonly timeoutMs?: number;
  /** Retries after a failed attempt. Default 2. */
  readonly maxRetries?: number;
  /** First retry delay, doubled each time. Default 100 ms. */
  readonly retryDelayMs?: number;
  /** Consecutive failures that open the circuit. Default 5. */
  readonly breakerThreshold?: number;
  /** How long the circuit stays open before one trial call. Default 10000 ms. */
  readonly halfOpenAfterMs?: number;
  /** Observes each attempt (metrics): operation, outcome, seconds. */
  readonly onAttempt?: (operation: string, outcome: 'ok' | 'error' | 'timeout', seconds: number) => void;
  /** Observes circuit state changes (metrics). */
  readonly onCircuitChange?: (open: boolean) => void;
}

const isTransient = (error: Error): boolean => error instanceof PaymentProviderUnavailableError || error instanceof TaskCancelledError;

export class ResilientPaymentProvider implements PaymentProvider {
  readonly name: string;
  private readonly policy: IPolicy;
  private readonly breaker;

  constructor(
    private readonly inner: PaymentProvider,
    private readonly options: ResilienceOptions = {},
  ) {
    this.name = inner.name;
    this.breaker = circuitBreaker(handleWhen(isTransient), {
      halfOpenAfter: options.halfOpenAfterMs ?? 10_000,
      breaker: new ConsecutiveBreaker(options.breakerThreshold ?? 5),
    });
    this.breaker.onBreak(() => options.onCircuitChange?.(true));
    this.breaker.onReset(() => options.onCircuitChange?.(false));
    const retries = retry(handleWhen(isTransient), {
      maxAttempts: options.maxRetries ?? 2,
      backoff: new ExponentialBackoff({ initialDelay: options.retryDelayMs ?? 100, maxDelay: 2_000 }),
    });
    // Aggressive: give up at the deadline even if the provider's client ignores the abort signal.
    this.policy = wrap(retries, this.breaker, timeout(options.timeoutMs ?? 5_000, TimeoutStrategy.Aggressive));
  }

  /** True while the circuit is open (calls fail fast with BrokenCircuitError). */
  get circuitOpen(): boolean {
    return this.breaker.state === CircuitState.Open || this.breaker.state === CircuitState.Isolated;
  }

  charge(request: ChargeRequest): Promise<ChargeResult> {
    return this.run('charge', (signal) => this.inner.charge(request, signal));
  }

  refund(request: RefundRequest): Promise<RefundResult> {
    return this.run('refund', (signal) => this.inner.refund(request, signal));
  }

  findCharge(idempotencyKey: string): Promise<ChargeResult | null> {
    return this.run('findCharge', (signal) => this.inner.findCharge(idempotencyKey, signal));
  }

  /** Local work (a signature check), no call to the provider: no policy around it. */
  parseWebhook(rawBody: Buffer, signature: string | undefined): PaymentWebhookEvent | null {
    return this.inner.parseWebhook(rawBody, signature);
  }

  /** The provider behind the policies (the dev-only challenge route needs the sandbox itself). */
  get provider(): PaymentProvider {
    return this.inner;
  }

  private run<T>(operation: string, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return this.policy.execute(async ({ signal }) => {
      const started = performance.now();
      try {
        const result = await call(signal);
        this.options.onAttempt?.(operation, 'ok', (performance.now() - started) / 1000);
        return result;
      } catch (error) {
        this.options.onAttempt?.(operation, signal.aborted ? 'timeout' : 'error', (performance.now() - started) / 1000);
        throw error;
      }
    });
  }
}
