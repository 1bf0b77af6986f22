import { DevOutbox } from '../notifications/dev-outbox';
import type { OutboxEntry } from '../notifications/dev-outbox';
import type { MailMessage } from './mailer';

/** A message as the development mailbox shows it. */
export type MailboxEntry = OutboxEntry<MailMessage, { readonly from: string }>;

/**
 * The development mailbox: keeps the most recent messages in memory (default 1000) so that a
 * developer (or a test) can read them at GET /dev/mailbox on the users service. Outside production
 * it also records what a real transport sent. Never enabled when NODE_ENV=production.
 */
export class DevMailbox extends DevOutbox<MailMessage, { readonly from: string }> {
  constructor(from: string, capacity?: number) {
    super('dev-mailbox', { from }, capacity);
  }
}
