/**
 * The payment routes of the orders service:
 * - POST /webhooks/payments: the provider's webhook endpoint (raw body, for the signature check;
 *   public through the gateway's entry, gateway/src/payment-webhook-proxy.ts and the Ingress);
 * - POST /dev/payments/challenge: development only, with the sandbox provider: plays the customer's
 *   3-D Secure challenge (`{ "clientSecret": "…", "outcome": "succeeded" | "failed" }`) and makes the
 *   sandbox deliver the signed webhook to the endpoint above over HTTP, so the real path runs
 *   offline. `"deliver": false` answers the signed delivery instead (to replay it in tests). 404 in
 *   production or with another provider.
 */
import express from 'express';
import type { Logger } from '@shop/platform';
import type { PaymentWebhooks } from './payment-webhooks';
import { WEBHOOK_SIGNATURE_HEADER } from './provider-webhooks';
import type { SandboxPaymentProvider } from './sandbox-payment-provider';
import { SandboxChallengeError } from './sandbox-payment-provider';

/** The path of the webhook endpoint (the same behind the gateway). */
export const PAYMENT_WEBHOOK_PATH = '/webhooks/payments';
/** The development-only challenge route. */
export const DEV_CHALLENGE_PATH = '/dev/payments/challenge';
/** Largest webhook body accepted (Stripe's events are a few KB). */
const WEBHOOK_BODY_LIMIT = '256kb';

export interface PaymentRouteParts {
  readonly webhooks: PaymentWebhooks;
  /** The sandbox, when it is the provider and this is not production: enables the challenge route. */
  readonly devSandbox: SandboxPaymentProvider | null;
  readonly logger: Logger;
}

export function paymentRoutes(app: express.Express, { webhooks, devSandbox, logger }: PaymentRouteParts): void {
  app.post(PAYMENT_WEBHOOK_PATH, express.raw({ type: () => true, limit: WEBHOOK_BODY_LIMIT }), (req, res) => {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const signature = req.headers[WEBHOOK_SIGNATURE_HEADER];
    void webhooks.receive(raw, typeof signature === 'string' ? signature : undefined).then(
      (answer) => void res.status(answer.status).json(answer.body),
      (err: unknown) => {
        logger.error({ err }, 'payment webhook could not be recorded; the provider will retry');
        res.status(503).json({ received: false, error: 'Try again later.' });
      },
    );
  });

  app.post(DEV_CHALLENGE_PATH, express.json({ limit: '4kb' }), (req, res) => {
    if (!devSandbox) return void res.status(404).json({ error: 'The challenge route exists only in development, with the sandbox payment provider.' });
    const body = (req.body ?? {}) as { clientSecret?: unknown; outcome?: unknown; deliver?: unknown };
    if (typeof body.clientSecret !== 'string' || !body.clientSecret) return void res.status(400).json({ error: 'clientSecret: expected the client secret of Payment.nextAction' });
    if (body.outcome !== 'succeeded' && body.outcome !== 'failed') return void res.status(400).json({ error: 'outcome: expected "succeeded" or "failed"' });
    let delivery: ReturnType<SandboxPaymentProvider['completeChallenge']>;
    try {
      delivery = devSandbox.completeChallenge(body.clientSecret, body.outcome);
    } catch (error) {
      if (error instanceof SandboxChallengeError) return void res.status(409).json({ error: error.message });
      throw error;
    }
    if (body.deliver === false) return void res.json(delivery);
    // The provider calls the webhook endpoint: here, the one of this very process.
    const endpoint = `http://127.0.0.1:${req.socket.localPort}${PAYMENT_WEBHOOK_PATH}`;
    void fetch(endpoint, { method: 'POST', headers: { 'content-type': 'application/json', [WEBHOOK_SIGNATURE_HEADER]: delivery.signature }, body: delivery.payload }).then(
      async (answer) => void res.json({ eventId: delivery.eventId, webhookStatus: answer.status, webhook: await answer.json().catch(() => null) }),
      (err: unknown) => {
        logger.warn({ err }, 'sandbox could not deliver its webhook');
        res.status(502).json({ eventId: delivery.eventId, error: 'The webhook endpoint could not be reached.' });
      },
    );
  });
}
