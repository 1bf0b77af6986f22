/**
 * The one notification pipeline: recipient → channels (preferences, policy) → templates →
 * outbox rows. Everything a user is told goes through `plan` and `UnitOfWork.queueNotifications`;
 * the dispatcher delivers, retries and dead-letters.
 */
import type { NotificationCategory, NotificationRecipient } from '../domain/notifications';
import { channelsFor, DEFAULT_PREFERENCES } from '../domain/notifications';
import type { User } from '../domain/user';
import type { NotificationTemplate } from '../mail/mailer';
import type { SmsTemplate, TemplateData } from '../mail/templates';
import { render, renderSms } from '../mail/templates';
import type { QueuedNotification } from '../persistence/outgoing-mail.repository';

/** One notification to someone: what it is about, its template and data, and its identity. */
export interface Notification<T extends NotificationTemplate> {
  readonly category: NotificationCategory;
  readonly template: T;
  /**
   * Names the fact (`order-shipped:<orderId>`, `back-in-stock:<productId>:<requestedAt>`): with
   * the channel and recipient it is the dedupe key, so a redelivered event queues nothing new.
   */
  readonly key: string;
  /** The template's data, given the name to greet and the recipient (a guest's order link). */
  readonly data: (name: string, recipient: NotificationRecipient) => TemplateData[T];
}

/** A guest's contact details for one order (from the orders service; see GuestContactLookup). */
export interface GuestContact {
  readonly email: string;
  readonly name?: string | null;
  /** The link with the order's token (guestOrder, cancelGuestOrder, guestOrderUpdated). */
  readonly link?: string | null;
}

/**
 * Where the contact of a guest order comes from: the orders service owns it and answers a signed
 * internal request (`GET /internal/guest-contact/:orderId`, audience orders). Null: not a guest
 * order, or unknown.
 */
export interface GuestContactLookup {
  find(orderId: string): Promise<GuestContact | null>;
}

/** How a mail greets a user: first name, else username. */
export function displayName(user: Pick<User, 'firstName' | 'username'>): string {
  return user.firstName ?? user.username;
}

/** A signed-up user as a recipient. */
export function userRecipient(user: User): NotificationRecipient {
  return { userId: user.id, name: displayName(user), email: user.email, phone: user.phone, emailVerified: user.emailVerified, preferences: user.notificationPreferences };
}

/** A guest as a recipient: order updates by e-mail, nothing else (a guest has no preferences and no phone on file). */
export function guestRecipient(contact: GuestContact): NotificationRecipient {
  return {
    userId: null,
    name: contact.name ?? 'there',
    email: contact.email,
    phone: null,
    emailVerified: false,
    preferences: { ...DEFAULT_PREFERENCES, orderUpdates: ['EMAIL'], backInStock: [], marketing: [] },
    orderLink: contact.link ?? null,
  };
}

const SMS_TEMPLATES: ReadonlySet<NotificationTemplate> = new Set<SmsTemplate>([
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
]);

function isSmsTemplate(template: NotificationTemplate): template is SmsTemplate {
  return SMS_TEMPLATES.has(template);
}

/**
 * The outbox rows of one notification to one recipient: one per channel the recipient gets it
 * on (none when the preferences say none). The dedupe key names the fact, the channel and the
 * recipient (its account id, which erasure uses to find and wipe its rows).
 */
export function plan<T extends NotificationTemplate>(recipient: NotificationRecipient, n: Notification<T>): QueuedNotification[] {
  const data = n.data(recipient.name, recipient);
  const who = recipient.userId ?? 'guest';
  return channelsFor(recipient, n.category).flatMap((channel): QueuedNotification[] => {
    const dedupeKey = `${n.key}:${channel}:${who}`;
    if (channel === 'EMAIL') return [{ dedupeKey, channel, category: n.category, message: { to: recipient.email!, template: n.template, ...render(n.template, data) } }];
    if (!isSmsTemplate(n.template)) return [];
    return [{ dedupeKey, channel, category: n.category, message: { to: recipient.phone!, template: n.template, text: renderSms<SmsTemplate>(n.template, data as TemplateData[SmsTemplate]) } }];
  });
}
