/**
 * A local fake of the part of Stripe's HTTP API the adapter uses, answering as Stripe documents it
 * (https://docs.stripe.com/api/payment_intents, /refunds, /errors, /idempotent_requests,
 * /testing): form-encoded requests with bracketed keys, `Authorization: Bearer`, `Idempotency-Key`
 * replays (the first answer again), 402 `card_error` with the intent for declines,
 * `resource_missing` for unknown tokens, 3-D Secure test cards answering `requires_action`, and
 * search by metadata. `completeChallenge` plays what the customer does in Stripe.js and answers
 * the webhook delivery Stripe would send, signed with the endpoint's secret. Never the internet.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { IntentObject } from '../../src/payments/provider-webhooks';
import { signedDelivery } from '../../src/payments/provider-webhooks';

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly form: Record<string, string>;
}

interface FakeIntent extends IntentObject {
  status: string;
  amount: number;
  currency: string;
  client_secret: string;
  next_action: unknown;
  metadata: Record<string, string>;
  last_payment_error: { code: string } | null;
  payment_method: { id: string; object: 'payment_method'; card: { last4: string } };
  refunded: number;
}

type Answer = { status: number; body: unknown };

const CARDS: Record<string, { last4: string; ok: boolean; threeDSecure?: true }> = {
  tok_visa: { last4: '4242', ok: true },
  tok_mastercard: { last4: '4444', ok: true },
  tok_chargeDeclined: { last4: '0002', ok: false },
  tok_threeDSecureRequired: { last4: '3155', ok: true, threeDSecure: true },
};

export class FakeStripe {
  readonly requests: RecordedRequest[] = [];
  readonly intents: FakeIntent[] = [];
  /** HTTP statuses to answer the next requests with instead of doing anything (outages). */
  failNext: number[] = [];
  private readonly replies = new Map<string, Answer>();
  private readonly server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const form = Object.fromEntries(new URLSearchParams(req.method === 'GET' ? url.search : Buffer.concat(chunks).toString()));
      this.requests.push({ method: req.method ?? '', path: url.pathname, headers: req.headers, form });
      const reply = ({ status, body }: Answer) => void res.writeHead(status, { 'content-type': 'application/json', 'request-id': `req_${randomBytes(6).toString('hex')}` }).end(JSON.stringify(body));
      const failure = this.failNext.shift();
      if (failure) return reply({ status: failure, body: { error: { type: 'api_error', message: 'Something went wrong on our end.' } } });
      if (req.headers.authorization !== `Bearer ${this.apiKey}`) return reply({ status: 401, body: { error: { type: 'invalid_request_error', message: 'Invalid API Key provided' } } });
      const key = req.headers['idempotency-key'];
      if (req.method === 'POST' && typeof key === 'string' && this.replies.has(key)) return reply(this.replies.get(key)!);
      const answer = this.route(req.method ?? '', url.pathname, form);
      if (req.method === 'POST' && typeof key === 'string') this.replies.set(key, answer);
      reply(answer);
    });
  });

  constructor(
    readonly apiKey: string,
    /** The webhook endpoint's signing secret (`whsec_…`). */
    readonly webhookSecret: string,
  ) {}

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  /** The customer completes (or fails) the challenge of the intent with this client secret; answers Stripe's signed webhook delivery. */
  completeChallenge(clientSecret: string, outcome: 'succeeded' | 'failed'): { payload: string; signature: string } {
    const intent = this.intents.find((i) => i.client_secret === clientSecret && i.status === 'requires_action');
    if (!intent) throw new Error('fake stripe: no intent waits for this challenge');
    intent.next_action = null;
    intent.status = outcome === 'succeeded' ? 'succeeded' : 'requires_payment_method';
    intent.last_payment_error = outcome === 'succeeded' ? null : { code: 'payment_intent_authentication_failure' };
    const type = outcome === 'succeeded' ? 'payment_intent.succeeded' : 'payment_intent.payment_failed';
    return signedDelivery({ id: `evt_${randomBytes(8).toString('hex')}`, type, object: this.view(intent) }, this.webhookSecret);
  }

  private route(method: string, path: string, form: Record<string, string>): Answer {
    if (method === 'POST' && path === '/v1/payment_intents') return this.createIntent(form);
    if (method === 'GET' && path === '/v1/payment_intents/search') {
      const wanted = /metadata\['idempotency_key'\]:'([^']*)'/.exec(form['query'] ?? '')?.[1];
      const data = this.intents.filter((i) => i.metadata['idempotency_key'] === wanted).map((i) => this.view(i));
      return { status: 200, body: { object: 'search_result', url: '/v1/payment_intents/search', has_more: false, data } };
    }
    if (method === 'POST' && path === '/v1/refunds') return this.refund(form);
    return { status: 404, body: { error: { type: 'invalid_request_error', message: `Unrecognized request URL (${method}: ${path})` } } };
  }

  private createIntent(form: Record<string, string>): Answer {
    const token = form['payment_method_data[card][token]'] ?? '';
    const card = CARDS[token];
    if (!card) return { status: 400, body: { error: { type: 'invalid_request_error', code: 'resource_missing', param: 'payment_method_data[card][token]', message: `No such token: '${token}'` } } };
    const id = `pi_${randomBytes(8).toString('hex')}`;
    const metadata: Record<string, string> = {};
    for (const [k, v] of Object.entries(form)) {
      const m = /^metadata\[(.+)\]$/.exec(k);
      if (m) metadata[m[1]!] = v;
    }
    const returnUrl = form['return_url'];
    const intent: FakeIntent = {
      id,
      object: 'payment_intent',
      amount: Number(form['amount']),
      currency: form['currency'] ?? '',
      client_secret: `${id}_secret_${randomBytes(8).toString('hex')}`,
      metadata,
      payment_method: { id: `pm_${randomBytes(6).toString('hex')}`, object: 'payment_method', card: { last4: card.last4 } },
      status: card.threeDSecure ? 'requires_action' : card.ok ? 'succeeded' : 'requires_payment_method',
      next_action: card.threeDSecure
        ? returnUrl
          ? { type: 'redirect_to_url', redirect_to_url: { url: `https://hooks.stripe.com/3d_secure_2/hosted?payment_intent=${id}`, return_url: returnUrl } }
          : { type: 'use_stripe_sdk', use_stripe_sdk: { type: 'three_d_secure_redirect' } }
        : null,
      last_payment_error: card.ok ? null : { code: 'card_declined' },
      refunded: 0,
    };
    this.intents.push(intent);
    if (!card.ok) return { status: 402, body: { error: { type: 'card_error', code: 'card_declined', decline_code: 'generic_decline', message: 'Your card was declined.', payment_intent: this.view(intent) } } };
    return { status: 200, body: this.view(intent) };
  }

  private refund(form: Record<string, string>): Answer {
    const intent = this.intents.find((i) => i.id === form['payment_intent']);
    if (!intent || intent.status !== 'succeeded') return { status: 400, body: { error: { type: 'invalid_request_error', code: 'resource_missing', param: 'payment_intent', message: 'No such payment_intent' } } };
    if (intent.refunded >= intent.amount) return { status: 400, body: { error: { type: 'invalid_request_error', code: 'charge_already_refunded', message: 'Charge has already been refunded.' } } };
    const amount = form['amount'] === undefined ? intent.amount - intent.refunded : Number(form['amount']);
    if (amount > intent.amount - intent.refunded) return { status: 400, body: { error: { type: 'invalid_request_error', code: 'amount_too_large', param: 'amount', message: 'Refund amount is greater than unrefunded amount on charge.' } } };
    intent.refunded += amount;
    return { status: 200, body: { id: `re_${randomBytes(8).toString('hex')}`, object: 'refund', amount, payment_intent: intent.id, status: 'succeeded' } };
  }

  /** The intent as the API shows it (without the fake's own bookkeeping). */
  private view(intent: FakeIntent): IntentObject & Record<string, unknown> {
    const { refunded: _refunded, ...shown } = intent;
    return { ...shown, amount_received: intent.status === 'succeeded' ? intent.amount : 0 };
  }
}
