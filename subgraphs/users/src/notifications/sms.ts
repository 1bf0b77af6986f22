/** The SMS port: what the users domain needs from a text-message provider. */
import type { NotificationTemplate } from '../mail/mailer';

/** A rendered text message, ready to send. */
export interface SmsMessage {
  /** E.164, e.g. +14155550100. */
  readonly to: string;
  readonly text: string;
  readonly template: NotificationTemplate;
  /** Stable per notification (derived from its dedupe key), the same on every attempt. */
  readonly messageId: string;
}

/** Sends one message; throws when the provider did not accept it (the dispatcher retries). */
export interface SmsSender {
  readonly kind: string;
  send(message: SmsMessage): Promise<void>;
  close(): Promise<void>;
}

/**
 * A refusal that no retry can fix (an invalid number, a number that opted out): the dispatcher
 * dead-letters the notification at once instead of retrying it.
 */
export class PermanentDeliveryError extends Error {
  override readonly name = 'PermanentDeliveryError';
}
