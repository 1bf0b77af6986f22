/**
 * The payment provider's webhooks enter the shop through the gateway's public entry (issue 19;
 * the Ingress routes `/webhooks/payments` here, docs/notes/orders.md): the delivery is forwarded
 * byte for byte, with its signature header, to the orders service's endpoint, which verifies it
 * (the gateway cannot: the signing secret is orders'). The answer (status and body) goes back as it
 * came, so the provider retries what orders could not record; an unreachable orders is 502.
 */
import type { RequestHandler } from 'express';
import express from 'express';
import type { Logger } from '@shop/platform';

/** The public path of the payment webhook endpoint (the same path on orders). */
export const PAYMENT_WEBHOOK_PATH = '/webhooks/payments';
/** The headers a delivery needs beyond its body: Stripe signs with `Stripe-Signature`. */
const FORWARDED_HEADERS = ['content-type', 'stripe-signature'] as const;

/** The route's handlers: the raw body (at most 256 KB), then the forward to `ordersUrl` (its origin + the webhook path). */
export function forwardPaymentWebhooks(ordersUrl: string | undefined, logger: Logger): RequestHandler[] {
  const target = ordersUrl ? new URL(PAYMENT_WEBHOOK_PATH, ordersUrl).toString() : null;
  const forward: RequestHandler = (req, res) => {
    if (!target) return void res.status(404).json({ error: 'No payment webhook endpoint is configured.' });
    const headers: Record<string, string> = {};
    for (const name of FORWARDED_HEADERS) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    const body = new Uint8Array(Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));
    void fetch(target, { method: 'POST', headers, body, signal: AbortSignal.timeout(10_000) }).then(
      async (answer) => void res.status(answer.status).type('application/json').send(Buffer.from(await answer.arrayBuffer())),
      (err: unknown) => {
        logger.warn({ err }, 'payment webhook could not be forwarded to orders');
        res.status(502).json({ received: false, error: 'Try again later.' });
      },
    );
  };
  return [express.raw({ type: () => true, limit: '256kb' }), forward];
}
