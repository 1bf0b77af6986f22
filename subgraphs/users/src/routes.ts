import type express from 'express';
import type { UsersParts } from './setup';

/**
 * GET /dev/mailbox: the development mailbox as JSON, newest first (`?to=<e-mail>` filters,
 * `?limit=` caps, default 50). Not mounted at all when NODE_ENV=production.
 */
export function usersRoutes(app: express.Express, { devMailbox }: UsersParts): void {
  if (!devMailbox) return;
  app.get('/dev/mailbox', (req, res) => {
    const to = typeof req.query['to'] === 'string' ? req.query['to'] : undefined;
    const limit = Math.min(200, Math.max(1, Number(req.query['limit']) || 50));
    res.set('Cache-Control', 'no-store').json({ messages: devMailbox.list({ to, limit }) });
  });
}
