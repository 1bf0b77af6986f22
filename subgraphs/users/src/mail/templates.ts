/**
 * The mails of the shop, rendered to text and HTML. Every value put into HTML is escaped; no
 * template ever contains a password or an access/refresh token (the reset token is the one
 * secret a mail carries, by design, and it is single-use and short-lived).
 */
import type { OrderRejectionReason } from '@shop/events';
import type { MailTemplate } from './mailer';

export interface RenderedMail {
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

/** The data of each template. */
export interface TemplateData {
  welcome: { name: string; username: string; appUrl: string } & VerificationData;
  'email-verification': { name: string } & VerificationData;
  'password-reset': { name: string; resetUrl: string; token: string; expiresInMinutes: number };
  'password-changed': { name: string; appUrl: string };
  'order-confirmed': { name: string; orderNumber: string; total: { amount: string; currencyCode: string }; breakdown?: string[]; guestLink?: string };
  'order-cancelled': { name: string; orderNumber: string; reason: string | null; refunded: boolean; guestLink?: string };
  'order-shipped': { name: string; orderNumber: string; carrier: string; trackingNumber: string; guestLink?: string };
  'order-placed': { name: string; orderNumber: string; total: { amount: string; currencyCode: string }; guestLink?: string };
  'order-rejected': { name: string; orderNumber: string; reason: OrderRejectionReason; guestLink?: string };
  'order-delivered': { name: string; orderNumber: string; guestLink?: string };
  'order-refunded': { name: string; orderNumber: string; amount: { amount: string; currencyCode: string }; guestLink?: string };
  'payment-action-required': { name: string; orderNumber: string; amount: { amount: string; currencyCode: string }; orderUrl: string; guestLink?: string };
  'back-in-stock': { name: string; productName: string | null; productUrl: string };
  'return-approved': { name: string; orderNumber: string };
  'return-received': { name: string; orderNumber: string };
  'return-refunded': { name: string; orderNumber: string; amount: { amount: string; currencyCode: string } };
}

/** What a mail that carries an e-mail verification token needs. */
export interface VerificationData {
  readonly token: string;
  readonly verifyUrl: string;
  readonly expiresInHours: number;
}

/** The words a customer reads for each rejection reason. */
export const REJECTION_TEXT: { readonly [R in OrderRejectionReason]: string } = {
  OUT_OF_STOCK: 'some items are out of stock',
  PAYMENT_DECLINED: 'the payment was declined',
  INVENTORY_TIMEOUT: 'we could not confirm stock in time',
  PAYMENT_TIMEOUT: 'the payment could not be confirmed in time',
  FRAUD_REJECTED: 'we could not accept the payment',
};

function verificationLines(d: VerificationData): string[] {
  return [`Please confirm your e-mail address: the link below works once, for ${d.expiresInHours} hours.`, `Verification token: ${d.token}`];
}

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Paragraphs of plain text become the text part and (escaped) the HTML part. */
function mail(subject: string, paragraphs: string[], link?: { href: string; label: string }): RenderedMail {
  const text = [...paragraphs, ...(link ? [`${link.label}: ${link.href}`] : []), '— The Shop team'].join('\n\n');
  const html = [
    '<!doctype html><html><body style="font-family: sans-serif; line-height: 1.5">',
    ...paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`),
    ...(link ? [`<p><a href="${escapeHtml(link.href)}">${escapeHtml(link.label)}</a></p>`] : []),
    '<p>— The Shop team</p></body></html>',
  ].join('\n');
  return { subject, text, html };
}

/** A guest order's link (with its token, from orders): a guest has no account to find the order in. */
function guestOrderLink(d: { guestLink?: string }, label: string): { href: string; label: string } | undefined {
  return d.guestLink ? { href: d.guestLink, label } : undefined;
}

const renderers: { [T in MailTemplate]: (data: TemplateData[T]) => RenderedMail } = {
  welcome: (d) =>
    mail('Welcome to the Shop', [`Hello ${d.name},`, `your account "${d.username}" is ready. Happy shopping!`, ...verificationLines(d)], { href: d.verifyUrl, label: 'Confirm your e-mail address' }),
  'email-verification': (d) => mail('Confirm your e-mail address', [`Hello ${d.name},`, ...verificationLines(d)], { href: d.verifyUrl, label: 'Confirm your e-mail address' }),
  'password-reset': (d) =>
    mail(
      'Reset your Shop password',
      [
        `Hello ${d.name},`,
        `someone (hopefully you) asked to reset the password of your account. The link below works once, for ${d.expiresInMinutes} minutes.`,
        `Reset token: ${d.token}`,
        'If you did not ask for this, ignore this mail: your password stays as it is.',
      ],
      { href: d.resetUrl, label: 'Choose a new password' },
    ),
  'password-changed': (d) =>
    mail('Your Shop password was changed', [
      `Hello ${d.name},`,
      'the password of your account was just changed and every device was signed out.',
      `If this was not you, reset your password at once at ${d.appUrl} and contact us.`,
    ]),
  'order-confirmed': (d) =>
    mail(
      `Order ${d.orderNumber} confirmed`,
      [`Hello ${d.name},`, `thank you for your order ${d.orderNumber}. It is confirmed; total ${d.total.amount} ${d.total.currencyCode}.`, ...(d.breakdown ?? []), 'We will let you know when it ships.'],
      guestOrderLink(d, 'Follow or cancel your order'),
    ),
  'order-cancelled': (d) =>
    mail(
      `Order ${d.orderNumber} cancelled`,
      [`Hello ${d.name},`, `your order ${d.orderNumber} was cancelled${d.reason ? ` (${d.reason})` : ''}.`, d.refunded ? 'Your payment has been refunded.' : 'You have not been charged.'],
      guestOrderLink(d, 'See your order'),
    ),
  'order-shipped': (d) =>
    mail(
      `Order ${d.orderNumber} shipped`,
      [`Hello ${d.name},`, `your order ${d.orderNumber} is on its way with ${d.carrier}.`, `Tracking number: ${d.trackingNumber}`],
      guestOrderLink(d, 'Follow your order'),
    ),
  'order-placed': (d) =>
    mail(
      `Order ${d.orderNumber} received`,
      [`Hello ${d.name},`, `we received your order ${d.orderNumber} (total ${d.total.amount} ${d.total.currencyCode}) and are confirming stock and payment.`],
      guestOrderLink(d, 'Follow your order'),
    ),
  'order-rejected': (d) =>
    mail(`Order ${d.orderNumber} could not be completed`, [`Hello ${d.name},`, `your order ${d.orderNumber} could not be completed: ${REJECTION_TEXT[d.reason]}.`, 'You have not been charged.'], guestOrderLink(d, 'See your order')),
  'order-delivered': (d) => mail(`Order ${d.orderNumber} delivered`, [`Hello ${d.name},`, `your order ${d.orderNumber} has been delivered. Enjoy!`], guestOrderLink(d, 'See your order')),
  'order-refunded': (d) =>
    mail(`Order ${d.orderNumber} refunded`, [`Hello ${d.name},`, `we refunded ${d.amount.amount} ${d.amount.currencyCode} for your order ${d.orderNumber}.`], guestOrderLink(d, 'See your order')),
  'payment-action-required': (d) =>
    mail(
      `Order ${d.orderNumber}: please confirm your payment`,
      [`Hello ${d.name},`, `your bank asks you to confirm the payment of ${d.amount.amount} ${d.amount.currencyCode} for order ${d.orderNumber} (3-D Secure).`, 'Your order is reserved until then; without a confirmation it is cancelled and you are not charged.'],
      guestOrderLink(d, 'Confirm your payment') ?? { href: d.orderUrl, label: 'Confirm your payment' },
    ),
  'back-in-stock': (d) =>
    mail(d.productName ? `${d.productName} is back in stock` : 'Back in stock', [`Hello ${d.name},`, `${d.productName ? `"${d.productName}"` : 'a product you asked about'} is back in stock.`], {
      href: d.productUrl,
      label: 'See the product',
    }),
  'return-approved': (d) => mail(`Return for order ${d.orderNumber} approved`, [`Hello ${d.name},`, `your return for order ${d.orderNumber} is approved: please send the items back. We refund them once they arrive.`]),
  'return-received': (d) => mail(`Return for order ${d.orderNumber} received`, [`Hello ${d.name},`, `the items you returned from order ${d.orderNumber} have arrived. Your refund is on its way.`]),
  'return-refunded': (d) => mail(`Return for order ${d.orderNumber} refunded`, [`Hello ${d.name},`, `we refunded ${d.amount.amount} ${d.amount.currencyCode} for the items you returned from order ${d.orderNumber}.`]),
};

/** Templates that may go by SMS (account mails carry links and tokens: e-mail only). */
export type SmsTemplate = Exclude<MailTemplate, 'welcome' | 'email-verification' | 'password-reset' | 'password-changed'>;

const smsRenderers: { [T in SmsTemplate]: (data: TemplateData[T]) => string } = {
  'order-placed': (d) => `Shop: we received order ${d.orderNumber} (${d.total.amount} ${d.total.currencyCode}).`,
  'order-confirmed': (d) => `Shop: order ${d.orderNumber} is confirmed (${d.total.amount} ${d.total.currencyCode}).`,
  'order-rejected': (d) => `Shop: order ${d.orderNumber} could not be completed: ${REJECTION_TEXT[d.reason]}. You have not been charged.`,
  'order-shipped': (d) => `Shop: order ${d.orderNumber} shipped with ${d.carrier}, tracking ${d.trackingNumber}.`,
  'order-delivered': (d) => `Shop: order ${d.orderNumber} was delivered.`,
  'order-cancelled': (d) => `Shop: order ${d.orderNumber} was cancelled${d.reason ? ` (${d.reason})` : ''}.${d.refunded ? ' Your payment is being refunded.' : ''}`,
  'order-refunded': (d) => `Shop: ${d.amount.amount} ${d.amount.currencyCode} refunded for order ${d.orderNumber}.`,
  'payment-action-required': (d) => `Shop: please confirm the payment of ${d.amount.amount} ${d.amount.currencyCode} for order ${d.orderNumber}: ${d.guestLink ?? d.orderUrl}`,
  'back-in-stock': (d) => `Shop: ${d.productName ? `"${d.productName}"` : 'a product you asked about'} is back in stock: ${d.productUrl}`,
  'return-approved': (d) => `Shop: your return for order ${d.orderNumber} is approved; please send the items back.`,
  'return-received': (d) => `Shop: your returned items from order ${d.orderNumber} arrived; the refund is on its way.`,
  'return-refunded': (d) => `Shop: ${d.amount.amount} ${d.amount.currencyCode} refunded for your return from order ${d.orderNumber}.`,
};

/** The text of a template's SMS. */
export function renderSms<T extends SmsTemplate>(template: T, data: TemplateData[T]): string {
  return smsRenderers[template](data);
}

export function render<T extends MailTemplate>(template: T, data: TemplateData[T]): RenderedMail {
  return renderers[template](data);
}
