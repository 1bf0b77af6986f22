import type express from 'express';
import type { InternalRoutes } from '@shop/platform';
import { bodyDigest } from '@shop/platform';
import { paymentRoutes } from './payments/payment-routes';
import type { OrdersParts } from './setup';

/** The path of the guest contact route (users asks it for a guest order's confirmation mail). */
export const GUEST_CONTACT_PATH = '/internal/guest-contact/';

/**
 * GET /internal/guest-contact/:orderId, signed like a gateway request (audience orders, method,
 * path, empty body; internal-request.ts): a guest order's recipient and the link with its token,
 * for the mail users sends. 401 without a valid signature, 404 for an unknown or non-guest order.
 * Nothing of it ever travels in an event (C↔D contract, docs/notes/orders.md).
 */
export function ordersRoutes(app: express.Express, { repo, carts, deps, webhooks, devSandbox }: OrdersParts, internal: InternalRoutes): void {
  paymentRoutes(app, { webhooks, devSandbox, logger: deps.logger });
  const empty = bodyDigest('');
  app.get(`${GUEST_CONTACT_PATH}:orderId`, (req, res) => {
    try {
      internal.verify(req.headers, 'GET', req.originalUrl, empty);
    } catch {
      return void res.status(401).json({ error: 'This route answers only requests signed for the orders service.' });
    }
    void repo.findByIds([req.params['orderId'] ?? '']).then(
      ([order]) => {
        if (!order || !order.guest) return void res.status(404).json({ error: 'No guest order with this id.' });
        const { token, link } = carts.guestLink(order.id);
        res.set('Cache-Control', 'no-store').json({ orderId: order.id, number: order.number, email: carts.guestEmail(order), token, link });
      },
      (err: unknown) => {
        deps.logger.error({ err }, 'guest contact lookup failed');
        res.status(503).json({ error: 'Try again later.' });
      },
    );
  });
}
