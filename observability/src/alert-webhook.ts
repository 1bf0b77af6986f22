/**
 * A minimal Alertmanager webhook receiver: records (and, run as a script, prints) every
 * notification Alertmanager posts. The e2e test uses it to prove that alerts reach a receiver;
 * locally it stands in for a chat or paging integration:
 *
 *   npx tsx observability/src/alert-webhook.ts        # listens on 127.0.0.1:9095 (WEBHOOK_PORT)
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One alert of a notification (Alertmanager webhook payload version 4). */
export interface WebhookAlert {
  readonly status: 'firing' | 'resolved';
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly startsAt: string;
}

/** A notification as received: the URL path (which receiver) and the payload. */
export interface WebhookNotification {
  readonly path: string;
  readonly receiver: string;
  readonly status: 'firing' | 'resolved';
  readonly alerts: readonly WebhookAlert[];
}

export interface AlertWebhook {
  readonly url: string;
  readonly port: number;
  /** Every notification received so far, oldest first. */
  readonly notifications: readonly WebhookNotification[];
  close(): Promise<void>;
}

/**
 * Starts the receiver on `host:port` (defaults 127.0.0.1 and 9095; 0 picks a free port). Every
 * POST is answered 200 and recorded; `onNotification` sees each one as it arrives.
 */
export async function startAlertWebhook(options: { host?: string; port?: number; onNotification?: (n: WebhookNotification) => void } = {}): Promise<AlertWebhook> {
  const notifications: WebhookNotification[] = [];
  const server = http.createServer((req, res) => {
    if (req.method !== 'POST') {
      res.writeHead(405).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Omit<WebhookNotification, 'path'>;
        const n: WebhookNotification = { path: req.url ?? '/', receiver: body.receiver, status: body.status, alerts: body.alerts ?? [] };
        notifications.push(n);
        options.onNotification?.(n);
        res.writeHead(200).end();
      } catch {
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 9095, options.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    port,
    notifications,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

if (require.main === module) {
  const port = Number(process.env['WEBHOOK_PORT'] ?? 9095);
  void startAlertWebhook({
    port,
    onNotification: (n) => {
      for (const a of n.alerts) {
        const labels = Object.entries(a.labels).map(([k, v]) => `${k}=${v}`).join(' ');
        process.stdout.write(`${new Date().toISOString()} ${n.path} ${a.status.toUpperCase()} ${labels}\n  ${a.annotations['summary'] ?? ''}\n`);
      }
    },
  }).then((w) => process.stdout.write(`Alert webhook listening on ${w.url}/alerts/{oncall,team}\n`));
}
