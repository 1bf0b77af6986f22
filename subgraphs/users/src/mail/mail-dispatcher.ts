import type { DataSource } from 'typeorm';
import type { BackgroundJob, Logger } from '@shop/platform';
import { PollingLoop } from '@shop/platform';
import { OutgoingMailRepository } from '../persistence/outgoing-mail.repository';
import type { PiiCipher } from '@shop/platform';
import { usersMetrics } from '../metrics';
import type { Mailer } from './mailer';

export interface MailDispatcherOptions {
  readonly dataSource: DataSource;
  readonly mailer: Mailer;
  readonly cipher: PiiCipher;
  readonly logger: Logger;
  /** How often to look for due mails when nobody called `wake()`. Default 1000 ms. */
  readonly pollIntervalMs?: number;
  /** Mails sent per transaction. Default 10. */
  readonly batchSize?: number;
  /** Attempts before a mail is given up (status `failed`). Default 8 (about 11 min of back-off with the default delays). */
  readonly maxAttempts?: number;
  /** Delay before the first retry, doubled each time up to 15 min. Default 5000 ms. */
  readonly retryBaseMs?: number;
}

/**
 * Sends the mails of the mail outbox. Each batch is claimed with `FOR UPDATE SKIP LOCKED` and
 * marked sent in the same transaction, right after the transport accepted it: a crash before the
 * send leaves the mail pending (sent later, never lost); a crash in the short window after the
 * SMTP server accepted it and before the commit sends it again with the same Message-ID.
 */
export class MailDispatcher implements BackgroundJob {
  private readonly loop: PollingLoop;
  private readonly metrics = usersMetrics();

  constructor(private readonly options: MailDispatcherOptions) {
    this.loop = new PollingLoop({
      tick: async () => void (await this.flush()),
      intervalMs: options.pollIntervalMs ?? 1_000,
      onError: (error, failures) => options.logger.warn({ err: error, failures }, 'mail dispatcher could not read the mail outbox; will retry'),
    });
  }

  start(): this {
    this.loop.start();
    return this;
  }

  /** Asks the dispatcher to look now (after committing a transaction that queued mails). */
  wake(): void {
    this.loop.wake();
  }

  /** Sends every mail that is due now; answers how many went out. */
  async flush(): Promise<number> {
    let total = 0;
    for (;;) {
      const { claimed, sent } = await this.sendBatch();
      total += sent;
      if (claimed < (this.options.batchSize ?? 10)) return total;
    }
  }

  private async sendBatch(): Promise<{ claimed: number; sent: number }> {
    const { dataSource, mailer, cipher, logger } = this.options;
    const maxAttempts = this.options.maxAttempts ?? 8;
    return dataSource.transaction(async (tx) => {
      const repo = new OutgoingMailRepository(tx, cipher);
      const due = await repo.claimDue(this.options.batchSize ?? 10);
      let sent = 0;
      for (const mail of due) {
        const end = this.metrics.mailSendSeconds.startTimer();
        try {
          await mailer.send(mail.message);
          end();
          await repo.markSent(mail.id);
          this.metrics.mails.inc({ template: mail.message.template, outcome: 'sent' });
          sent++;
        } catch (error) {
          end();
          const attempt = mail.attempts + 1;
          const giveUp = attempt >= maxAttempts;
          // 5 s, 10 s, 20 s … capped at 15 min.
          const retryAt = giveUp ? null : new Date(Date.now() + Math.min(15 * 60_000, (this.options.retryBaseMs ?? 5_000) * 2 ** (attempt - 1)));
          await repo.markFailedAttempt(mail.id, error instanceof Error ? error.message : String(error), retryAt);
          this.metrics.mails.inc({ template: mail.message.template, outcome: giveUp ? 'failed' : 'retry' });
          logger[giveUp ? 'error' : 'warn']({ err: error, mailId: mail.id, template: mail.message.template, attempt }, giveUp ? 'mail given up' : 'mail not sent; will retry');
        }
      }
      return { claimed: due.length, sent };
    });
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }
}
