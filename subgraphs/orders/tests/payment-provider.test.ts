import { BrokenCircuitError } from 'cockatiel';
import { PaymentProviderUnavailableError } from '../src/payments/payment-provider';
import { ResilientPaymentProvider } from '../src/payments/resilient-payment-provider';
import { SandboxPaymentProvider } from '../src/payments/sandbox-payment-provider';

const charge = (orderId: string, token = 'tok_visa') => ({ idempotencyKey: `order-${orderId}-charge`, amount: '10.00', currencyCode: 'USD', token, orderId });

describe('the sandbox payment provider', () => {
  it('should approve tok_visa, decline tok_chargeDeclined and call anything else an invalid token', async () => {
    const sandbox = new SandboxPaymentProvider({ latencyMs: 0 });
    expect(await sandbox.charge(charge('a'))).toEqual({ outcome: 'approved', chargeId: expect.stringMatching(/^pi_sandbox_/), last4: '4242' });
    expect(await sandbox.charge(charge('b', 'tok_chargeDeclined'))).toMatchObject({ outcome: 'declined', reason: 'card_declined', last4: '0002' });
    expect(await sandbox.charge(charge('c', 'tok_whatever'))).toMatchObject({ outcome: 'declined', reason: 'invalid_token', last4: null });
  });

  it('should answer the first outcome again for a repeated idempotency key and never charge twice', async () => {
    const sandbox = new SandboxPaymentProvider({ latencyMs: 0 });
    const first = await sandbox.charge(charge('a'));
    expect(await sandbox.charge(charge('a'))).toEqual(first);
    expect(sandbox.chargesOf('a')).toHaveLength(1);
    const refund = await sandbox.refund({ idempotencyKey: 'r', chargeId: (first as { chargeId: string }).chargeId });
    expect(await sandbox.refund({ idempotencyKey: 'r', chargeId: (first as { chargeId: string }).chargeId })).toEqual(refund);
    expect(sandbox.chargesOf('a')[0]?.refunded).toBe(true);
  });
});

describe('the payment policies (timeout, retry, circuit breaker)', () => {
  it('should retry a charge whose response was lost and charge once', async () => {
    const sandbox = new SandboxPaymentProvider({ latencyMs: 0 });
    sandbox.inject('charge', 'lost-response');
    const provider = new ResilientPaymentProvider(sandbox, { timeoutMs: 100, maxRetries: 2, retryDelayMs: 10 });
    expect(await provider.charge(charge('a'))).toMatchObject({ outcome: 'approved' });
    expect(sandbox.calls.charge).toBe(2);
    expect(sandbox.chargesOf('a')).toHaveLength(1);
  });

  it('should not retry a decline', async () => {
    const sandbox = new SandboxPaymentProvider({ latencyMs: 0 });
    const provider = new ResilientPaymentProvider(sandbox, { retryDelayMs: 10 });
    expect(await provider.charge(charge('a', 'tok_chargeDeclined'))).toMatchObject({ outcome: 'declined' });
    expect(sandbox.calls.charge).toBe(1);
  });

  it('should open the circuit after consecutive failures and fail fast until it half-opens', async () => {
    const sandbox = new SandboxPaymentProvider({ latencyMs: 0 });
    sandbox.inject('charge', 'unavailable', 3);
    const changes: boolean[] = [];
    const provider = new ResilientPaymentProvider(sandbox, { maxRetries: 0, breakerThreshold: 3, halfOpenAfterMs: 200, onCircuitChange: (open) => changes.push(open) });
    for (let i = 0; i < 3; i++) await expect(provider.charge(charge(`x${i}`))).rejects.toBeInstanceOf(PaymentProviderUnavailableError);
    expect(provider.circuitOpen).toBe(true);
    await expect(provider.charge(charge('y'))).rejects.toBeInstanceOf(BrokenCircuitError);
    expect(sandbox.calls.charge).toBe(3);
    await new Promise((r) => setTimeout(r, 250));
    expect(await provider.charge(charge('z'))).toMatchObject({ outcome: 'approved' });
    expect(provider.circuitOpen).toBe(false);
    expect(changes).toEqual([true, false]);
  });
});
