import type express from 'express';
import type { UsersParts } from './setup';

/**
 * GET /dev/mailbox and GET /dev/sms-outbox: the development outboxes as JSON, newest first
 * (`?to=<e-mail or phone>` filters, `?limit=` caps, default 50, at most 1000). Not mounted at all
 * when NODE_ENV=production.
 */
export function usersRoutes(app: express.Express, { devMailbox, devSmsOutbox }: UsersParts): void {
  const serve = (path: string, outbox: { list(options: { to?: string | undefined; limit?: number }): unknown[] }) =>
    app.get(path, (req, res) => {
      const to = typeof req.query['to'] === 'string' ? req.query['to'] : undefined;
      const limit = Math.min(1000, Math.max(1, Number(req.query['limit']) || 50));
      res.set('Cache-Control', 'no-store').json({ messages: outbox.list({ to, limit }) });
    });
  if (devMailbox) serve('/dev/mailbox', devMailbox);
  if (devSmsOutbox) serve('/dev/sms-outbox', devSmsOutbox);
}
