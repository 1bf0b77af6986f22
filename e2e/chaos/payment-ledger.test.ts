/**
 * The chaos run's Stripe double on its own, over real HTTP: what orders' Stripe adapter reads back
 * after a crash (`GET /v1/payment_intents/search` by idempotency key) is the charge it made, card
 * and currency included, and two ledgers in one process never see each other's charges.
 */
import { randomUUID } from 'node:crypto';
import { PaymentLedger } from './payment-ledger';

interface Intent {
  id: string;
  status: string;
  currency: string;
  amount: number;
  payment_method: { card: { last4: string } };
}

async function charge(baseUrl: string, token: string, idempotencyKey: string, currency = 'usd'): Promise<{ status: number; intent: Intent }> {
  const res = await fetch(`${baseUrl}/v1/payment_intents`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'idempotency-key': idempotencyKey },
    body: new URLSearchParams({ amount: '1250', currency, 'payment_method_data[card][token]': token, 'metadata[order_id]': randomUUID(), 'metadata[idempotency_key]': idempotencyKey }),
  });
  const body = (await res.json()) as Intent | { error: { payment_intent: Intent } };
  return { status: res.status, intent: 'error' in body ? body.error.payment_intent : body };
}

async function search(baseUrl: string, idempotencyKey: string): Promise<Intent[]> {
  const query = encodeURIComponent(`metadata['idempotency_key']:'${idempotencyKey}'`);
  const res = await fetch(`${baseUrl}/v1/payment_intents/search?query=${query}&expand[]=data.payment_method`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { data: Intent[] }).data;
}

describe('the chaos run’s payment ledger', () => {
  const ledger = new PaymentLedger();
  let url: string;
  beforeAll(async () => {
    url = await ledger.listen(0);
  });
  afterAll(async () => {
    await ledger.close();
  });

  it('should find a charge by its idempotency key with the card and currency it was made with', async () => {
    const key = randomUUID();
    const made = await charge(url, 'tok_visa', key, 'eur');
    expect(made.status).toBe(200);
    expect(made.intent).toMatchObject({ status: 'succeeded', currency: 'eur', amount: 1250, payment_method: { card: { last4: '4242' } } });
    const [found, ...more] = await search(url, key);
    expect(more).toEqual([]);
    expect(found).toEqual(made.intent);
  });

  it('should keep each ledger’s charges to itself, even where their ids are the same', async () => {
    // Fresh ledgers number their intents alike: the second's first charge has the first's id.
    const first = new PaymentLedger();
    const second = new PaymentLedger();
    const [a, b] = await Promise.all([first.listen(0), second.listen(0)]);
    try {
      const approved = await charge(a, 'tok_visa', 'key-a');
      const declined = await charge(b, 'tok_chargeDeclined', 'key-b');
      expect(declined.status).toBe(402);
      expect(declined.intent.id).toBe(approved.intent.id);
      expect((await search(a, 'key-a')).map((i) => [i.status, i.payment_method.card.last4])).toEqual([['succeeded', '4242']]);
      expect((await search(b, 'key-b')).map((i) => [i.status, i.payment_method.card.last4])).toEqual([['requires_payment_method', '0002']]);
      expect(await search(a, 'key-b')).toEqual([]);
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  });
});
