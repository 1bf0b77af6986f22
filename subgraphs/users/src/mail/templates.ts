/**
 * The mails of the shop, rendered to text and HTML. Every value put into HTML is escaped; no
 * template ever contains a password or an access/refresh token (the reset token is the one
 * secret a mail carries, by design, and it is single-use and short-lived).
 */
import type { MailTemplate } from './mailer';

export interface RenderedMail {
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

/** The data of each template. */
export interface TemplateData {
  welcome: { name: string; username: string; appUrl: string };
  'password-reset': { name: string; resetUrl: string; token: string; expiresInMinutes: number };
  'password-changed': { name: string; appUrl: string };
  'order-confirmed': { name: string; orderNumber: string; total: { amount: string; currencyCode: string }; breakdown?: string[]; guestLink?: string };
  'order-cancelled': { name: string; orderNumber: string; reason: string | null; refunded: boolean };
  'order-shipped': { name: string; orderNumber: string; carrier: string; trackingNumber: string };
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

const renderers: { [T in MailTemplate]: (data: TemplateData[T]) => RenderedMail } = {
  welcome: (d) =>
    mail('Welcome to the Shop', [`Hello ${d.name},`, `your account "${d.username}" is ready. Happy shopping!`], { href: d.appUrl, label: 'Visit the shop' }),
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
      d.guestLink ? { href: d.guestLink, label: 'Follow or cancel your order' } : undefined,
    ),
  'order-cancelled': (d) =>
    mail(`Order ${d.orderNumber} cancelled`, [
      `Hello ${d.name},`,
      `your order ${d.orderNumber} was cancelled${d.reason ? ` (${d.reason})` : ''}.`,
      d.refunded ? 'Your payment has been refunded.' : 'You have not been charged.',
    ]),
  'order-shipped': (d) =>
    mail(`Order ${d.orderNumber} shipped`, [`Hello ${d.name},`, `your order ${d.orderNumber} is on its way with ${d.carrier}.`, `Tracking number: ${d.trackingNumber}`]),
};

export function render<T extends MailTemplate>(template: T, data: TemplateData[T]): RenderedMail {
  return renderers[template](data);
}
