import { createHash } from 'node:crypto';
import type { MailMessage } from '../mail/mailer';
import type { PiiCipher } from '@shop/platform';
import type { Db } from './sql';
import { row, rows } from './sql';

/** A queued mail claimed for sending. */
export interface DueMail {
  readonly id: string;
  readonly attempts: number;
  readonly message: MailMessage;
}

/**
 * The mail outbox (`outgoing_mail`). The payload (recipient, subject, bodies) is encrypted like
 * any personal data, and wiped once the mail is sent.
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
  async enqueue(dedupeKey: string, message: Omit<MailMessage, 'messageId'>): Promise<boolean> {
    const full: MailMessage = { ...message, messageId: messageIdFor(dedupeKey) };
    const inserted = await rows<{ id: string }>(
      this.db,
      'INSERT INTO outgoing_mail (dedupe_key, template, payload_enc) VALUES ($1, $2, $3) ON CONFLICT (dedupe_key) DO NOTHING RETURNING id',
      [dedupeKey, message.template, this.cipher.encrypt(JSON.stringify(full), context(dedupeKey))],
    );
    return inserted.length > 0;
  }

  /** Locks up to `limit` due mails (`SKIP LOCKED`: replicas never take the same one). Call inside a transaction. */
  async claimDue(limit: number): Promise<DueMail[]> {
    const due = await rows<{ id: string; dedupe_key: string; attempts: number; payload_enc: string }>(
      this.db,
      `SELECT id, dedupe_key, attempts, payload_enc FROM outgoing_mail
       WHERE status = 'pending' AND next_attempt_at <= now()
       ORDER BY next_attempt_at, id LIMIT $1 FOR UPDATE SKIP LOCKED`,
      [limit],
    );
    return due.map((d) => ({ id: d.id, attempts: d.attempts, message: JSON.parse(this.cipher.decrypt(d.payload_enc, context(d.dedupe_key))) as MailMessage }));
  }

  async markSent(id: string): Promise<void> {
    await rows(this.db, "UPDATE outgoing_mail SET status = 'sent', sent_at = now(), attempts = attempts + 1, payload_enc = NULL, last_error = NULL WHERE id = $1", [id]);
  }

  /** Records a failed attempt: retried at `retryAt`, or given up (kept, encrypted, for an operator) when null. */
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

  /** Deletes sent mails after 30 days (their dedupe keys only matter while events can be redelivered). */
  async purgeOld(): Promise<number> {
    const r = await row<{ n: number }>(
      this.db,
      "WITH d AS (DELETE FROM outgoing_mail WHERE status <> 'pending' AND created_at < now() - interval '30 days' RETURNING 1) SELECT count(*)::int AS n FROM d",
    );
    return r?.n ?? 0;
  }
}

function context(dedupeKey: string): string {
  return `outgoing_mail:${dedupeKey}`;
}

/** A Message-ID derived from the mail's dedupe key, so every attempt carries the same one. */
export function messageIdFor(dedupeKey: string): string {
  return `<${createHash('sha256').update(dedupeKey).digest('hex').slice(0, 32)}@users.shop.local>`;
}
