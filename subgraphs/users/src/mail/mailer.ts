/** The mail port: what the users domain needs from an e-mail transport. */

/** Every notification template, whatever its channel (bounded). */
export const NOTIFICATION_TEMPLATES = [
  'welcome',
  'email-verification',
  'password-reset',
  'password-changed',
  'order-placed',
  'order-confirmed',
  'order-rejected',
  'order-shipped',
  'order-delivered',
  'order-cancelled',
  'order-refunded',
  'payment-action-required',
  'back-in-stock',
  'return-approved',
  'return-received',
  'return-refunded',
] as const;

/** Which notification a message is (bounded). */
export type NotificationTemplate = (typeof NOTIFICATION_TEMPLATES)[number];

/** Which mail a message is (every template has a mail). */
export type MailTemplate = NotificationTemplate;

/** A rendered mail, ready to send. */
export interface MailMessage {
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  readonly html: string;
  readonly template: MailTemplate;
  /**
   * Stable Message-ID (`<…@…>`), the same on every attempt: in the rare case that a mail is sent
   * twice (the process died after the SMTP server accepted it, before that was recorded),
   * receiving systems can tell it is the same message.
   */
  readonly messageId: string;
}

/** Sends one message; throws when the transport did not accept it (the dispatcher retries). */
export interface Mailer {
  readonly kind: string;
  send(message: MailMessage): Promise<void>;
  close(): Promise<void>;
}
