import type { DataSource } from 'typeorm';
import type { BackgroundJob, Logger } from '@shop/platform';
import { PollingLoop } from '@shop/platform';
import type { PiiCipher } from '@shop/platform';
import type { NotificationChannel } from '../domain/notifications';
import { NOTIFICATION_CATEGORIES, NOTIFICATION_CHANNELS } from '../domain/notifications';
import type { Mailer } from '../mail/mailer';
import { usersMetrics } from '../metrics';
import type { DueNotification } from '../persistence/outgoing-mail.repository';
import { OutgoingMailRepository } from '../persistence/outgoing-mail.repository';
import type { SmsSender } from './sms';
import { PermanentDeliveryError } from './sms';

export interface NotificationDispatcherOptions {
  readonly dataSource: DataSource;
  /** The e-mail transport; null: e-mails stay queued (production without SMTP_HOST). */
  readonly mailer: Mailer | null;
  /** The SMS transport; null or absent: text messages stay queued (production without a provider). */
  readonly sms?: SmsSender | null;
  readonly cipher: PiiCipher;
  readonly logger: Logger;
  /** How often to look for due notifications when nobody called `wake()`. Default 1000 ms. */
  readonly pollIntervalMs?: number;
  /** Notifications sent per transaction. Default 25. */
  readonly batchSize?: number;
  /** Attempts before a notification is dead-lettered (status `failed`). Default 8 (about 11 min of back-off with the default delays). */
  readonly maxAttempts?: number;
  /** Delay before the first retry, doubled each time up to 15 min. Default 5000 ms. */
  readonly retryBaseMs?: number;
}

/**
 * Delivers the notification outbox, every channel (e-mail, SMS). Each batch is claimed with
 * `FOR UPDATE SKIP LOCKED` and marked sent in the same transaction, right after the transport
 * accepted it: a crash before the send leaves it pending (sent later, never lost); a crash in the
 * short window after the provider accepted it and before the commit sends it again (e-mails with
 * the same Message-ID). A refusal is retried with back-off; after `maxAttempts`, or at once for a
 * PermanentDeliveryError, it is dead-lettered: status `failed`, kept for an operator.
 */
export class NotificationDispatcher implements BackgroundJob {
  private readonly loop: PollingLoop;
  private readonly metrics = usersMetrics();
  private readonly channels: NotificationChannel[];

  constructor(private readonly options: NotificationDispatcherOptions) {
    this.channels = [...(options.mailer ? (['EMAIL'] as const) : []), ...(options.sms ? (['SMS'] as const) : [])];
    // Every series from 0 (bounded: 2 channels × 4 categories × 3 outcomes), so a rate shows 0, not "no data".
    for (const channel of NOTIFICATION_CHANNELS)
      for (const category of NOTIFICATION_CATEGORIES) for (const outcome of ['sent', 'failed', 'dead_lettered']) this.metrics.notifications.inc({ channel, category, outcome }, 0);
    this.loop = new PollingLoop({
      tick: async () => void (await this.flush()),
      intervalMs: options.pollIntervalMs ?? 1_000,
      onError: (error, failures) => options.logger.warn({ err: error, failures }, 'notification dispatcher could not read the outbox; will retry'),
    });
  }

  start(): this {
    this.loop.start();
    return this;
  }

  /** Asks the dispatcher to look now (after committing a transaction that queued notifications). */
  wake(): void {
    this.loop.wake();
  }

  /** Sends every notification that is due now; answers how many went out. */
  async flush(): Promise<number> {
    if (this.channels.length === 0) return 0;
    let total = 0;
    for (;;) {
      const { claimed, sent } = await this.sendBatch();
      total += sent;
      if (claimed < (this.options.batchSize ?? 25)) return total;
    }
  }

  private async deliver(n: DueNotification): Promise<void> {
    if (n.channel === 'EMAIL') await this.options.mailer!.send(n.message);
    else await this.options.sms!.send(n.message);
  }

  private async sendBatch(): Promise<{ claimed: number; sent: number }> {
    const { dataSource, cipher, logger } = this.options;
    const maxAttempts = this.options.maxAttempts ?? 8;
    return dataSource.transaction(async (tx) => {
      const repo = new OutgoingMailRepository(tx, cipher);
      const due = await repo.claimDue(this.options.batchSize ?? 25, this.channels);
      let sent = 0;
      for (const n of due) {
        const labels = { channel: n.channel, category: n.category };
        const end = this.metrics.notificationSendSeconds.startTimer({ channel: n.channel });
        try {
          await this.deliver(n);
          end();
          await repo.markSent(n.id);
          this.metrics.notifications.inc({ ...labels, outcome: 'sent' });
          sent++;
        } catch (error) {
          end();
          const attempt = n.attempts + 1;
          const giveUp = attempt >= maxAttempts || error instanceof PermanentDeliveryError;
          // 5 s, 10 s, 20 s … capped at 15 min.
          const retryAt = giveUp ? null : new Date(Date.now() + Math.min(15 * 60_000, (this.options.retryBaseMs ?? 5_000) * 2 ** (attempt - 1)));
          await repo.markFailedAttempt(n.id, error instanceof Error ? error.message : String(error), retryAt);
          this.metrics.notifications.inc({ ...labels, outcome: giveUp ? 'dead_lettered' : 'failed' });
          const log = { err: error, notificationId: n.id, channel: n.channel, template: n.message.template, attempt };
          if (giveUp) logger.error(log, 'notification dead-lettered');
          else logger.warn(log, 'notification not sent; will retry');
        }
      }
      return { claimed: due.length, sent };
    });
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }
}
