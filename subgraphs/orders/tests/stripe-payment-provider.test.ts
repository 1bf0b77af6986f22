/**
 * The Stripe adapter against a double of Stripe's charges API that answers as Stripe documents
 * it (https://docs.stripe.com/api/charges, /errors, /idempotent_requests, /testing): form-encoded
 * requests, `Idempotency-Key` replays, 402 card errors, `resource_missing` for unknown tokens.
 * Request shapes were also checked against stripe-mock (see support/stripe-mock-check.ts).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PaymentProviderUnavailableError } from '../src/payments/payment-provider';
import { StripePaymentProvider } from '../src/payments/stripe-payment-provider';

interface Recorded {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  form: Record<string, string>;
}

class FakeStripe {
  readonly requests: Recorded[] = [];
  readonly charges: Array<Record<string, unknown>> = [];
  private readonly replies = new Map<string, { status: number; body: unknown }>();
  failNext: number[] = [];
  server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const form = Object.fromEntries(new URLSearchParams(raw));
      this.requests.push({ method: req.method ?? '', path: url.pathname, headers: req.headers, form });
      const reply = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      };
      const failure = this.failNext.shift();
      if (failure) return reply(failure, { error: { type: 'api_error', message: 'boom' } });
      if (req.headers.authorization !== 'Bearer sk_test_fake') return reply(401, { error: { type: 'invalid_request_error', message: 'Invalid API Key provided' } });
      const key = req.headers['idempotency-key'] as string | undefined;
      if (req.method === 'POST' && key && this.replies.has(key)) {
        const saved = this.replies.get(key)!;
        return reply(saved.status, saved.body);
      }
      const answer = this.route(req.method ?? '', url, form);
      if (req.method === 'POST' && key) this.replies.set(key, answer);
      reply(answer.status, answer.body);
    });
  });

  private route(method: string, url: URL, form: Record<string, string>): { status: number; body: unknown } {
    if (method === 'POST' && url.pathname === '/v1/charges') {
      const id = `ch_${this.charges.length + 1}`;
      const cards: Record<string, { last4: string; ok: boolean }> = { tok_visa: { last4: '4242', ok: true }, tok_chargeDeclined: { last4: '0002', ok: false } };
      const card = cards[form['source'] ?? ''];
      if (!card) return { status: 400, body: { error: { type: 'invalid_request_error', code: 'resource_missing', param: 'source', message: `No such token: '${form['source']}'` } } };
      const charge = { id, object: 'charge', amount: Number(form['amount']), status: card.ok ? 'succeeded' : 'failed', metadata: { idempotency_key: form['metadata[idempotency_key]'] }, payment_method_details: { card: { last4: card.last4 } } };
      this.charges.push(charge);
      if (!card.ok) return { status: 402, body: { error: { type: 'card_error', code: 'card_declined', decline_code: 'generic_decline', charge: id, message: 'Your card was declined.' } } };
      return { status: 200, body: charge };
    }
    if (method === 'POST' && url.pathname === '/v1/refunds') return { status: 200, body: { id: `re_for_${form['charge']}`, object: 'refund', status: 'succeeded' } };
    if (method === 'GET' && url.pathname === '/v1/charges/search') {
      const wanted = /metadata\['idempotency_key'\]:'([^']*)'/.exec(url.searchParams.get('query') ?? '')?.[1];
      return { status: 200, body: { object: 'search_result', data: this.charges.filter((c) => (c['metadata'] as { idempotency_key: string }).idempotency_key === wanted) } };
    }
    return { status: 404, body: { error: { type: 'invalid_request_error', message: 'Unrecognized request URL' } } };
  }
}

describe('the Stripe payment provider', () => {
  const stripe = new FakeStripe();
  let provider: StripePaymentProvider;
  beforeAll(async () => {
    await new Promise<void>((resolve) => stripe.server.listen(0, '127.0.0.1', resolve));
    provider = new StripePaymentProvider({ apiKey: 'sk_test_fake', baseUrl: `http://127.0.0.1:${(stripe.server.address() as AddressInfo).port}` });
  });
  afterAll(async () => {
    await new Promise((resolve) => stripe.server.close(resolve));
  });

  const request = (key: string, token = 'tok_visa') => ({ idempotencyKey: key, amount: '19.99', currencyCode: 'USD', token, orderId: 'o-1' });

  it('should charge in minor units with the token as source and the idempotency key as header and metadata', async () => {
    const result = await provider.charge(request('k-1'));
    expect(result).toEqual({ outcome: 'approved', chargeId: 'ch_1', last4: '4242' });
    const sent = stripe.requests.at(-1)!;
    expect(sent.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(sent.headers['idempotency-key']).toBe('k-1');
    expect(sent.form).toEqual({ amount: '1999', currency: 'usd', source: 'tok_visa', description: 'Order o-1', 'metadata[order_id]': 'o-1', 'metadata[idempotency_key]': 'k-1' });
  });

  it('should get the first answer again for a retried key, without a second charge', async () => {
    expect(await provider.charge(request('k-1'))).toEqual({ outcome: 'approved', chargeId: 'ch_1', last4: '4242' });
    expect(stripe.charges).toHaveLength(1);
  });

  it('should map a 402 card error to a decline and an unknown token to invalid_token', async () => {
    expect(await provider.charge(request('k-2', 'tok_chargeDeclined'))).toEqual({ outcome: 'declined', chargeId: 'ch_2', last4: null, reason: 'card_declined' });
    expect(await provider.charge(request('k-3', 'tok_nope'))).toEqual({ outcome: 'declined', chargeId: null, last4: null, reason: 'invalid_token' });
  });

  it('should call 5xx, 429 and 409 answers unavailable (retry later with the same key)', async () => {
    for (const status of [500, 429, 409]) {
      stripe.failNext = [status];
      await expect(provider.charge(request(`k-${status}`))).rejects.toBeInstanceOf(PaymentProviderUnavailableError);
    }
  });

  it('should refund with an idempotency key and find an earlier charge by its key', async () => {
    expect(await provider.refund({ idempotencyKey: 'r-1', chargeId: 'ch_1' })).toEqual({ refundId: 're_for_ch_1' });
    expect(stripe.requests.at(-1)!.headers['idempotency-key']).toBe('r-1');
    expect(stripe.requests.at(-1)!.form['amount']).toBeUndefined(); // all that is left
    await provider.refund({ idempotencyKey: 'r-2', chargeId: 'ch_1', amount: '12.34' });
    expect(stripe.requests.at(-1)!.form).toEqual({ charge: 'ch_1', amount: '1234' }); // issue 19: partial, in minor units
    expect(await provider.findCharge('k-1')).toEqual({ outcome: 'approved', chargeId: 'ch_1', last4: '4242' });
    expect(await provider.findCharge('never-sent')).toBeNull();
  });
});
