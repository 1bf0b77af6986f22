/**
 * Order mails of issue 18 (kept apart from the notification pipeline, which calls these): the price
 * breakdown lines of an order mail, and the recipient and link of a guest order, which users asks
 * orders for over a signed internal request (events carry no personal data; C↔D contract in
 * docs/notes/orders.md).
 */
import type { MoneyPayload } from '@shop/events';
import { signInternalRequest } from '@shop/platform';
import type { GuestContactLookup } from '../notifications/notifier';

/** The amounts an order event carries (`breakdown`, optional on older events). */
export interface OrderBreakdown {
  readonly subtotal: MoneyPayload;
  readonly discount: MoneyPayload;
  readonly shipping: MoneyPayload;
  readonly tax: MoneyPayload;
  readonly total: MoneyPayload;
}

/** One line per amount ("Subtotal: 36.00 USD" … "Total: 38.96 USD"); none for an event without a breakdown. */
export function breakdownLines(b: OrderBreakdown | undefined): string[] {
  if (!b) return [];
  const m = (x: MoneyPayload) => `${x.amount} ${x.currencyCode}`;
  return [`Subtotal: ${m(b.subtotal)}`, `Discount: -${m(b.discount)}`, `Shipping: ${m(b.shipping)}`, `Tax: ${m(b.tax)}`, `Total: ${m(b.total)}`];
}

/** What orders answers for a guest order. */
export interface GuestOrderContact {
  readonly orderId: string;
  readonly number: string;
  readonly email: string;
  /** The link with the order's token (guestOrder, cancelGuestOrder, guestOrderUpdated). */
  readonly link: string;
  readonly token: string;
}

/**
 * Asks the orders service for a guest order's recipient: `GET /internal/guest-contact/:orderId`,
 * signed like a gateway request (audience orders). Null when orders knows no such guest order, or
 * while orders' address is not configured; throws when orders cannot answer (the event is retried).
 */
export class GuestContacts implements GuestContactLookup {
  private target: { readonly origin: string; readonly secret: string } | null = null;

  /** Where orders is and the internal secret (the embedded supergraph sets it once orders is up). */
  useOrders(ordersUrl: string, secret: string): void {
    this.target = { origin: new URL(ordersUrl).origin, secret };
  }

  get configured(): boolean {
    return this.target !== null;
  }

  async find(orderId: string): Promise<GuestOrderContact | null> {
    if (!this.target) return null;
    const path = `/internal/guest-contact/${encodeURIComponent(orderId)}`;
    const headers = signInternalRequest({ secret: this.target.secret, audience: 'orders', method: 'GET', path, body: '' });
    const res = await fetch(`${this.target.origin}${path}`, { headers, signal: AbortSignal.timeout(5_000) });
    if (res.status === 404) return null;
    if (!res.ok) throw new Error(`guest contact lookup answered ${res.status}`);
    return (await res.json()) as GuestOrderContact;
  }
}
