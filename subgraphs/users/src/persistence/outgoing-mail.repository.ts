import { createHash } from 'node:crypto';
import type { NotificationCategory, NotificationChannel } from '../domain/notifications';
import type { MailMessage } from '../mail/mailer';
import type { SmsMessage } from '../notifications/sms';
import type { PiiCipher } from '@shop/platform';
import type { Db } from './sql';
import { row, rows } from './sql';

/** A notification to queue: one channel, one recipient, rendered. */
export type QueuedNotification =
  | { readonly dedupeKey: string; readonly channel: 'EMAIL'; readonly category: NotificationCategory; readonly message: Omit<MailMessage, 'messageId'> }
  | { readonly dedupeKey: string; readonly channel: 'SMS'; readonly category: NotificationCategory; readonly message: Omit<SmsMessage, 'messageId'> };

/** A queued notification claimed for sending. */
export type DueNotification =
  | { readonly id: string; readonly attempts: number; readonly channel: 'EMAIL'; readonly category: NotificationCategory; readonly message: MailMessage }
  | { readonly id: string; readonly attempts: number; readonly channel: 'SMS'; readonly category: NotificationCategory; readonly message: SmsMessage };

/**
 * The notification outbox (`outgoing_mail`: it began with mails; `channel` says EMAIL or SMS).
 * The payload (recipient, subject, bodies) is encrypted like any personal data, and wiped once
 * the notification is sent.
 */
export class OutgoingMailRepository {
  constructor(
    private readonly db: Db,
    private readonly cipher: PiiCipher,
  ) {}

  /**
   * Queues a mail in the caller's transaction. `dedupeKey` names the mail (`welcome:<userId>`,
   * `order-shipped:<orderId>`): a second enqueue with the same key is a no-op, so a redelivered
   * event never sends a mail twice. Answers false when the mail was already queued.
   */
  async enqueue(dedupeKey: string, message: Omit<MailMessage, 'messageId'>, category: NotificationCategory = 'account'): Promise<boolean> {
    return (await this.enqueueMany([{ dedupeKey, channel: 'EMAIL', category, message }])) > 0;
  }

  /**
   * Queues notifications of any channel in one statement (a back-in-stock batch is hundreds);
   * keys already queued are skipped. Answers how many were queued.
   */
  async enqueueMany(list: readonly QueuedNotification[]): Promise<number> {
    if (list.length === 0) return 0;
    const payloads = list.map((n) => this.cipher.encrypt(JSON.stringify({ ...n.message, messageId: messageIdFor(n.dedupeKey) }), context(n.dedupeKey)));
    const inserted = await rows<{ id: string }>(
      this.db,
      `INSERT INTO outgoing_mail (dedupe_key, channel, category, template, payload_enc)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
       ON CONFLICT (dedupe_key) DO NOTHING RETURNING id`,
      [list.map((n) => n.dedupeKey), list.map((n) => n.channel), list.map((n) => n.category), list.map((n) => n.message.template), payloads],
    );
    return inserted.length;
  }

  /**
   * Locks up to `limit` due notifications of the given channels (`SKIP LOCKED`: replicas never
   * take the same one). Call inside a transaction.
   */
  async claimDue(limit: number, channels: readonly NotificationChannel[] = ['EMAIL']): Promise<DueNotification[]> {
    const due = await rows<{ id: string; dedupe_key: string; attempts: number; channel: NotificationChannel; category: NotificationCategory; payload_enc: string }>(
      this.db,
      `SELECT id, dedupe_key, attempts, channel, category, payload_enc FROM outgoing_mail
       WHERE status = 'pending' AND channel = ANY ($2::text[]) AND next_attempt_at <= now()
       ORDER BY next_attempt_at, id LIMIT $1 FOR UPDATE SKIP LOCKED`,
      [limit, channels],
    );
    return due.map((d) => ({ id: d.id, attempts: d.attempts, channel: d.channel, category: d.category, message: JSON.parse(this.cipher.decrypt(d.payload_enc, context(d.dedupe_key))) }) as DueNotification);
  }

  async markSent(id: string): Promise<void> {
    await rows(this.db, "UPDATE outgoing_mail SET status = 'sent', sent_at = now(), attempts = attempts + 1, payload_enc = NULL, last_error = NULL WHERE id = $1", [id]);
  }

  /**
   * Records a failed attempt: retried at `retryAt`, or dead-lettered (status `failed`, kept
   * encrypted for an operator until the retention purge) when null.
   */
  async markFailedAttempt(id: string, error: string, retryAt: Date | null): Promise<void> {
    await rows(
      this.db,
      `UPDATE outgoing_mail SET attempts = attempts + 1, last_error = $2,
         status = CASE WHEN $3::timestamptz IS NULL THEN 'failed' ELSE 'pending' END,
         next_attempt_at = coalesce($3::timestamptz, next_attempt_at)
       WHERE id = $1`,
      [id, error.slice(0, 500), retryAt],
    );
  }

  /** Deletes sent and dead-lettered notifications after 30 days (their dedupe keys only matter while events can be redelivered). */
  async purgeOld(): Promise<number> {
    const r = await row<{ n: number }>(
      this.db,
      "WITH d AS (DELETE FROM outgoing_mail WHERE status <> 'pending' AND created_at < now() - interval '30 days' RETURNING 1) SELECT count(*)::int AS n FROM d",
    );
    return r?.n ?? 0;
  }

  /**
   * Erasure: wipes the payload of every notification whose dedupe key names `userId` (every
   * notification to an account carries its id in the key); pending ones are not sent any more.
   * The rows stay, without personal data, until the retention purge.
   */
  async wipeFor(userId: string): Promise<void> {
    await rows(this.db, `UPDATE outgoing_mail SET payload_enc = NULL, status = CASE WHEN status = 'pending' THEN 'failed' ELSE status END, last_error = 'account erased' WHERE dedupe_key LIKE '%' || $1 || '%'`, [userId]);
  }
}

function context(dedupeKey: string): string {
  return `outgoing_mail:${dedupeKey}`;
}

/** A Message-ID derived from the notification's dedupe key, so every attempt carries the same one. */
export function messageIdFor(dedupeKey: string): string {
  return `<${createHash('sha256').update(dedupeKey).digest('hex').slice(0, 32)}@users.shop.local>`;
}
