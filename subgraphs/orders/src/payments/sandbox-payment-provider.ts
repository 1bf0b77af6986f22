/**
 * A built-in payment gateway in test mode, behaving like a real one's sandbox:
 * - `tok_visa` approves (card ending 4242), `tok_chargeDeclined` declines (card ending 0002),
 *   `tok_threeDSecureRequired` (card ending 3155) needs 3-D Secure: the charge answers
 *   `requires_action` with a client secret, and `completeChallenge` (the dev-only route
 *   POST /dev/payments/challenge) plays the customer's challenge and signs the webhook the provider
 *   would send; any other token is an invalid token;
 * - every call takes `latencyMs`;
 * - idempotency keys: the same key answers the first outcome again and never charges twice;
 * - failures are injectable: `failureRate` (random "unavailable" errors) and `inject()` for tests,
 *   including a response lost after the charge went through (the case idempotency keys exist for).
 *
 * Its ledger lives in memory: a sandbox, not a bank.
 */
import { randomBytes } from 'node:crypto';
import type { ChargeRequest, ChargeResult, PaymentProvider, PaymentWebhookEvent, RefundRequest, RefundResult } from './payment-provider';
import { PaymentProviderUnavailableError } from './payment-provider';
import { fromCents, toCents } from '../domain/money';
import type { WebhookVerification } from './provider-webhooks';
import { parseIntentWebhook, signedDelivery } from './provider-webhooks';

export interface SandboxOptions {
  /** Latency of every call. Default 50 ms. */
  readonly latencyMs?: number;
  /** Share of calls (0..1) failing with PaymentProviderUnavailableError before doing anything. Default 0. */
  readonly failureRate?: number;
  /** How its webhooks are signed and verified. Default: the development secret, 300 s tolerance. */
  readonly webhooks?: WebhookVerification;
}

/** The signing secret of the sandbox's webhooks when none is configured (development only). */
export const SANDBOX_DEVELOPMENT_WEBHOOK_SECRET = 'whsec_sandbox_development_only';

/** A challenge that cannot be played: unknown client secret, or the payment no longer waits for one. */
export class SandboxChallengeError extends Error {
  override readonly name = 'SandboxChallengeError';
}

/**
 * A failure injected into the next calls of an operation:
 * - `unavailable`: fails at once, nothing happens at the provider;
 * - `hang`: never answers (until the caller aborts), nothing happens;
 * - `lost-response`: the operation happens, then the answer never arrives (until the caller aborts).
 */
export type InjectedFailure = 'unavailable' | 'hang' | 'lost-response';

type Operation = 'charge' | 'refund' | 'findCharge';

interface ChargeRecord {
  result: ChargeResult;
  readonly request: ChargeRequest;
  /** The refund that emptied the charge (full or last partial), null while something is left. */
  refundedBy: string | null;
  /** Cents refunded so far (partial refunds add up, never beyond the charge). */
  refundedCents: bigint;
}

const CARDS: Readonly<Record<string, { last4: string; approves: boolean; authenticates?: true }>> = {
  tok_visa: { last4: '4242', approves: true },
  tok_mastercard: { last4: '4444', approves: true },
  tok_chargeDeclined: { last4: '0002', approves: false },
  tok_threeDSecureRequired: { last4: '3155', approves: true, authenticates: true },
};

export class SandboxPaymentProvider implements PaymentProvider {
  readonly name = 'sandbox';
  private readonly charges = new Map<string, ChargeRecord>();
  private readonly refunds = new Map<string, RefundResult & { chargeId: string }>();
  private readonly injected: Record<Operation, InjectedFailure[]> = { charge: [], refund: [], findCharge: [] };
  /** Calls that reached the provider, per operation (tests assert retries on it). */
  readonly calls: Record<Operation, number> = { charge: 0, refund: 0, findCharge: 0 };

  constructor(private readonly options: SandboxOptions = {}) {}

  /** Makes the next `times` calls of `operation` fail as `failure`. */
  inject(operation: Operation, failure: InjectedFailure, times = 1): void {
    for (let i = 0; i < times; i++) this.injected[operation].push(failure);
  }

  /** Charges actually made with this order id (each idempotency key counts once). */
  chargesOf(orderId: string): ReadonlyArray<ChargeResult & { refunded: boolean; amount: string; refundedAmount: string }> {
    return [...this.charges.values()]
      .filter((c) => c.request.orderId === orderId && c.result.outcome === 'approved')
      .map((c) => ({ ...c.result, refunded: c.refundedBy !== null, amount: c.request.amount, refundedAmount: fromCents(c.refundedCents) }));
  }

  async charge(request: ChargeRequest, signal?: AbortSignal): Promise<ChargeResult> {
    return this.call('charge', signal, () => {
      const existing = this.charges.get(request.idempotencyKey);
      if (existing) return existing.result;
      const card = CARDS[request.token];
      const id = newId('pi');
      const result: ChargeResult = !card
        ? { outcome: 'declined', chargeId: null, last4: null, reason: 'invalid_token' }
        : card.authenticates
          ? { outcome: 'requires_action', chargeId: id, last4: card.last4, nextAction: { type: 'THREE_D_SECURE', clientSecret: `${id}_secret_${randomBytes(12).toString('base64url')}`, redirectUrl: null } }
          : card.approves
            ? { outcome: 'approved', chargeId: id, last4: card.last4 }
            : { outcome: 'declined', chargeId: id, last4: card.last4, reason: 'card_declined' };
      this.charges.set(request.idempotencyKey, { result, request, refundedBy: null, refundedCents: 0n });
      return result;
    });
  }

  async refund(request: RefundRequest, signal?: AbortSignal): Promise<RefundResult> {
    return this.call('refund', signal, () => {
      const existing = this.refunds.get(request.idempotencyKey);
      if (existing) return { refundId: existing.refundId };
      const charge = [...this.charges.values()].find((c) => c.result.outcome === 'approved' && c.result.chargeId === request.chargeId);
      if (!charge) throw new Error(`sandbox: no captured charge ${request.chargeId}`);
      const left = toCents(charge.request.amount) - charge.refundedCents;
      // A full refund of an emptied charge answers the refund that emptied it (as before partial refunds).
      if (request.amount === undefined && charge.refundedBy) return { refundId: charge.refundedBy };
      const cents = request.amount === undefined ? left : toCents(request.amount);
      if (cents <= 0n || cents > left) throw new Error(`sandbox: cannot refund ${fromCents(cents)} of charge ${request.chargeId}: ${fromCents(left)} left`);
      const refundId = newId('re');
      charge.refundedCents += cents;
      if (charge.refundedCents === toCents(charge.request.amount)) charge.refundedBy = refundId;
      this.refunds.set(request.idempotencyKey, { refundId, chargeId: request.chargeId });
      return { refundId };
    });
  }

  async findCharge(idempotencyKey: string, signal?: AbortSignal): Promise<ChargeResult | null> {
    return this.call('findCharge', signal, () => this.charges.get(idempotencyKey)?.result ?? null);
  }

  /**
   * Plays the customer's 3-D Secure challenge of the payment with this client secret (what the
   * provider's client library would do) and answers the webhook delivery the provider would send:
   * `payment_intent.succeeded`, or `payment_intent.payment_failed` (authentication failed). The
   * payment's outcome changes at once (`findCharge` sees it). Throws SandboxChallengeError.
   */
  completeChallenge(clientSecret: string, outcome: 'succeeded' | 'failed'): { eventId: string; payload: string; signature: string } {
    const record = [...this.charges.values()].find((c) => c.result.outcome === 'requires_action' && c.result.nextAction.clientSecret === clientSecret);
    if (!record || record.result.outcome !== 'requires_action') throw new SandboxChallengeError('No payment waits for a challenge with this client secret.');
    const { chargeId, last4 } = record.result;
    record.result = outcome === 'succeeded' ? { outcome: 'approved', chargeId, last4: last4 ?? '' } : { outcome: 'declined', chargeId, last4, reason: 'authentication_failed' };
    const eventId = newId('evt');
    const object = {
      id: chargeId,
      object: 'payment_intent',
      status: outcome === 'succeeded' ? 'succeeded' : 'requires_payment_method',
      metadata: { order_id: record.request.orderId, idempotency_key: record.request.idempotencyKey },
      payment_method: { card: { last4 } },
      last_payment_error: outcome === 'succeeded' ? null : { code: 'payment_intent_authentication_failure' },
    };
    const type = outcome === 'succeeded' ? 'payment_intent.succeeded' : 'payment_intent.payment_failed';
    return { eventId, ...signedDelivery({ id: eventId, type, object }, this.webhookVerification.secret) };
  }

  parseWebhook(rawBody: Buffer, signature: string | undefined): PaymentWebhookEvent | null {
    return parseIntentWebhook(rawBody, signature, this.webhookVerification);
  }

  private get webhookVerification(): WebhookVerification {
    return this.options.webhooks ?? { secret: SANDBOX_DEVELOPMENT_WEBHOOK_SECRET };
  }

  private async call<T>(operation: Operation, signal: AbortSignal | undefined, effect: () => T): Promise<T> {
    await delay(this.options.latencyMs ?? 50, signal);
    this.calls[operation]++;
    const failure = this.injected[operation].shift();
    if (failure === 'unavailable' || (!failure && Math.random() < (this.options.failureRate ?? 0))) {
      throw new PaymentProviderUnavailableError(`sandbox: ${operation} unavailable (injected)`);
    }
    if (failure === 'hang') return never(signal);
    const result = effect();
    if (failure === 'lost-response') return never(signal);
    return result;
  }
}

function newId(prefix: string): string {
  return `${prefix}_sandbox_${randomBytes(9).toString('base64url')}`;
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(new PaymentProviderUnavailableError('sandbox: call aborted'));
    }, { once: true });
  });
}

/** A call whose answer never comes: settles only when the caller gives up. */
function never<T>(signal?: AbortSignal): Promise<T> {
  return new Promise((_resolve, reject) => {
    signal?.addEventListener('abort', () => reject(new PaymentProviderUnavailableError('sandbox: no answer (injected)')), { once: true });
  });
}
