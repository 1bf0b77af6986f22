/**
 * The payment provider of the chaos run: a double of Stripe's PaymentIntents API (the part the
 * orders service's Stripe adapter speaks: `POST /v1/payment_intents`, `POST /v1/refunds`,
 * `GET /v1/payment_intents/search`, `Idempotency-Key` replays) that lives in the chaos runner's process, so its ledger survives
 * every SIGKILL of orders. It is the payment boundary, the one place a mock belongs; the
 * invariants read its ledger to prove that no order was charged or refunded twice.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LedgerCharge {
  readonly id: string;
  readonly orderId: string;
  readonly idempotencyKey: string;
  readonly amountCents: number;
  /** Lower-case ISO code, as the charge asked for it (`usd`). */
  readonly currency: string;
  /** The last 4 digits of the card charged, as the intent's `payment_method.card.last4` shows them. */
  readonly cardLast4: string;
  readonly succeeded: boolean;
}

export interface LedgerRefund {
  readonly id: string;
  readonly chargeId: string;
}

/** Card tokens as Stripe's test mode names them; anything else is an unknown token. */
const CARDS: Readonly<Record<string, { readonly last4: string; readonly ok: boolean }>> = {
  tok_visa: { last4: '4242', ok: true },
  tok_chargeDeclined: { last4: '0002', ok: false },
};

type Reply = { readonly status: number; readonly body: unknown };

export class PaymentLedger {
  readonly charges: LedgerCharge[] = [];
  readonly refunds: LedgerRefund[] = [];
  /** Refund requests (not replays) for a charge refunded already: refused, but a sign of a second refund attempt. */
  secondRefundRequests = 0;
  /** First answer per idempotency key (Stripe replays it for the same key). */
  private readonly replies = new Map<string, Reply>();
  private readonly server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://ledger');
      const key = req.headers['idempotency-key'];
      const replayKey = req.method === 'POST' && typeof key === 'string' ? `${url.pathname} ${key}` : undefined;
      const reply = (replayKey && this.replies.get(replayKey)) || this.route(req.method ?? '', url, Object.fromEntries(new URLSearchParams(raw)), typeof key === 'string' ? key : '');
      if (replayKey && !this.replies.has(replayKey)) this.replies.set(replayKey, reply);
      res.writeHead(reply.status, { 'content-type': 'application/json' }).end(JSON.stringify(reply.body));
    });
  });

  /** Listens on 127.0.0.1:`port` (0: any free port); resolves with the base URL. */
  async listen(port: number): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', resolve);
    });
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private route(method: string, url: URL, form: Record<string, string>, key: string): Reply {
    if (method === 'POST' && url.pathname === '/v1/payment_intents') {
      const card = CARDS[form['payment_method_data[card][token]'] ?? ''];
      if (!card) return { status: 400, body: { error: { type: 'invalid_request_error', code: 'resource_missing', param: 'payment_method_data[card][token]', message: 'No such token' } } };
      const charge: LedgerCharge = {
        id: `pi_${this.charges.length + 1}`,
        orderId: form['metadata[order_id]'] ?? '',
        idempotencyKey: form['metadata[idempotency_key]'] ?? key,
        amountCents: Number(form['amount']),
        currency: form['currency'] ?? '',
        cardLast4: card.last4,
        succeeded: card.ok,
      };
      this.charges.push(charge);
      const intent = stripeIntent(charge);
      if (!card.ok) return { status: 402, body: { error: { type: 'card_error', code: 'card_declined', decline_code: 'generic_decline', message: 'Your card was declined.', payment_intent: intent } } };
      return { status: 200, body: intent };
    }
    if (method === 'POST' && url.pathname === '/v1/refunds') {
      const chargeId = form['payment_intent'] ?? '';
      if (!this.charges.some((c) => c.id === chargeId && c.succeeded)) return { status: 400, body: { error: { type: 'invalid_request_error', code: 'resource_missing', param: 'payment_intent', message: 'No such payment_intent' } } };
      if (this.refunds.some((r) => r.chargeId === chargeId)) {
        this.secondRefundRequests++;
        return { status: 400, body: { error: { type: 'invalid_request_error', code: 'charge_already_refunded', message: 'Charge has already been refunded.' } } };
      }
      const refund = { id: `re_${this.refunds.length + 1}`, chargeId };
      this.refunds.push(refund);
      return { status: 200, body: { id: refund.id, object: 'refund', payment_intent: chargeId, status: 'succeeded' } };
    }
    if (method === 'GET' && url.pathname === '/v1/payment_intents/search') {
      const wanted = /metadata\['idempotency_key'\]:'([^']*)'/.exec(url.searchParams.get('query') ?? '')?.[1];
      const found = this.charges.filter((c) => c.idempotencyKey === wanted).map(stripeIntent);
      return { status: 200, body: { object: 'search_result', url: '/v1/payment_intents/search', has_more: false, data: found } };
    }
    return { status: 404, body: { error: { type: 'invalid_request_error', message: 'Unrecognized request URL' } } };
  }
}

/** The intent as Stripe shows it (with `payment_method` expanded, as the adapter asks), from the charge alone. */
function stripeIntent(c: LedgerCharge): Record<string, unknown> {
  return {
    id: c.id,
    object: 'payment_intent',
    amount: c.amountCents,
    amount_received: c.succeeded ? c.amountCents : 0,
    currency: c.currency,
    client_secret: `${c.id}_secret_chaos`,
    status: c.succeeded ? 'succeeded' : 'requires_payment_method',
    next_action: null,
    last_payment_error: c.succeeded ? null : { code: 'card_declined' },
    metadata: { order_id: c.orderId, idempotency_key: c.idempotencyKey },
    payment_method: { id: `pm_${c.id}`, object: 'payment_method', card: { last4: c.cardLast4 } },
  };
}
