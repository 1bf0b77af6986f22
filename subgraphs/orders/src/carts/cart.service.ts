/**
 * Carts and checkout (issue 18): a signed-in user's implicit cart and guest carts, lines priced by
 * `priceCart` from orders' own read models, shipping, tax, coupons, merge at sign-in, expiry, the
 * admin's shipping methods, tax rates and coupons, and `checkout`, which turns a cart into an order
 * through the same placement as `placeOrder` (OrdersService.newPlacement), in one transaction with
 * the coupon redemptions and the cart's removal.
 */
import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';
import { CartCheckedOut, CartCreated, CartExpired, CouponRedeemed } from '@shop/events';
import type { Identity, PiiCipher, PreparedEvent, ServiceDeps } from '@shop/platform';
import { afterCommit, badUserInput, conflict, notFound, requireAdmin, unauthenticated } from '@shop/platform';
import type { EntityManager } from 'typeorm';
import type { OrdersSettings } from '../config';
import { DEVELOPMENT_GUEST_TOKEN_SECRET } from '../config';
import type { ShippingAddress } from '../domain/checkout';
import { isUuid, MAX_LINES, MAX_QUANTITY, parseAddress, parseIdempotencyKey, requiredText } from '../domain/checkout';
import { isCountryCode } from '../domain/countries';
import type { Breakdown, PricingCoupon } from '../domain/pricing';
import { applyRate, couponRefusal, DEFAULT_CURRENCY, formatMinor, moneyInput, parseScaled, priceCart, PPM, rateInput, shipsTo } from '../domain/pricing';
import type { OrdersMetrics } from '../metrics';
import type { OrdersService } from '../orders.service';
import type { OrderItemRow, OrderRow } from '../persistence/entities';
import type { CartRow, CartsRepository, CouponRow, ShippingMethodRow } from '../persistence/carts.repository';
import type { OrdersRepository } from '../persistence/orders.repository';

/** Coupons one cart may hold at once. */
export const MAX_COUPONS = 3;
/** Carts removed per sweep statement. */
const SWEEP_BATCH = 500;

/** A cart with everything its fields show, priced now. */
export interface CartView {
  readonly cart: CartRow;
  readonly lines: ReadonlyArray<{ readonly id: string; readonly productId: string; readonly productName: string | null; readonly quantity: number; readonly unitPriceMinor: bigint; readonly lineTotalMinor: bigint }>;
  readonly breakdown: Breakdown;
  readonly shippingMethod: ShippingMethodRow | null;
  readonly availableShippingMethods: readonly ShippingMethodRow[];
  readonly expiresAt: Date;
}

export interface CheckoutInput {
  readonly cartId?: string | null;
  readonly email?: string | null;
  readonly payment: { readonly token: string };
  readonly idempotencyKey: string;
}

export interface CreateShippingMethodInput {
  readonly name: string;
  readonly price: string;
  readonly currencyCode?: string | null;
  readonly freeOver?: string | null;
  readonly estimatedDays?: number | null;
  readonly countries?: readonly string[] | null;
}

export interface CreateCouponInput {
  readonly code: string;
  readonly kind: 'PERCENT' | 'FIXED';
  readonly value: string;
  readonly currencyCode?: string | null;
  readonly minSubtotal?: string | null;
  readonly validFrom?: string | null;
  readonly validUntil?: string | null;
  readonly maxRedemptions?: number | null;
  readonly maxRedemptionsPerCustomer?: number | null;
}

const EMAIL = /^[^\s@]{1,64}@[^\s@]+\.[^\s@]{2,}$/;

/** The hash stored for a guest order token (the raw token is never stored). */
export function guestTokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

function currencyInput(value: string | null | undefined, field: string): string {
  const c = (value ?? DEFAULT_CURRENCY).trim().toUpperCase();
  if (!/^[A-Z]{3}$/.test(c)) throw badUserInput(field, 'Currency must be an ISO 4217 code such as "USD".');
  return c;
}

function countInput(value: number | null | undefined, field: string, max = 1_000_000): number | null {
  if (value === null || value === undefined) return null;
  if (!Number.isInteger(value) || value < 0 || value > max) throw badUserInput(field, `Must be a whole number between 0 and ${max}.`);
  return value;
}

function dateInput(value: string | null | undefined, field: string): Date | null {
  if (!value) return null;
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw badUserInput(field, 'Expected an ISO-8601 date-time.');
  return d;
}

export class CartService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly carts: CartsRepository,
    private readonly ordersRepo: OrdersRepository,
    private readonly orders: OrdersService,
    private readonly settings: OrdersSettings,
    private readonly metrics: OrdersMetrics,
    private readonly cipher: PiiCipher,
  ) {}

  private get ttlMs(): number {
    return this.settings.CART_TTL_DAYS * 86_400_000;
  }

  private activeSince(now: Date): Date {
    return new Date(now.getTime() - this.ttlMs);
  }

  // ------------------------------------------------------------------ finding carts

  /**
   * The cart an operation is about: `cartId` (anyone holding a guest cart's id; a user's cart only
   * for its owner), else the signed-in user's implicit cart (created on first use). A guest
   * without `cartId` is UNAUTHENTICATED. Expired carts are NOT_FOUND.
   */
  private async resolve(m: EntityManager, identity: Identity | null, cartId: string | null | undefined, lock: boolean): Promise<CartRow> {
    const now = new Date();
    if (cartId) {
      const cart = await this.carts.findCart(m, cartId, this.activeSince(now), lock);
      if (!cart || (cart.ownerId !== null && cart.ownerId !== identity?.userId)) throw notFound('Cart', cartId);
      return cart;
    }
    if (!identity) throw unauthenticated('Sign in, or pass the cartId of a guest cart (createCart).');
    const existing = await this.carts.findOwnedCart(m, identity.userId, this.activeSince(now), lock);
    if (existing) return existing;
    await this.carts.dropExpiredOwnedCart(m, identity.userId, this.activeSince(now));
    const newId = newCartId();
    await this.carts.insertCart(m, newId, identity.userId, now);
    await this.deps.outbox.add(m, CartCreated, newId, { cartId: newId, guest: false, at: now.toISOString() });
    afterCommit(m, () => this.metrics.cartsCreated.inc({ kind: 'user' }));
    const created = await this.carts.findOwnedCart(m, identity.userId, this.activeSince(now), lock);
    if (!created) throw new Error('the cart just created is not there');
    return created;
  }

  /** `cart(id)`: that cart, or the signed-in user's; null for a guest without id and for an unknown or expired id. */
  async find(identity: Identity | null, cartId: string | null | undefined): Promise<CartView | null> {
    if (!cartId && !identity) return null;
    try {
      return await this.deps.transaction(async (tx) => this.view(tx, await this.resolve(tx, identity, cartId, false), identity));
    } catch (error) {
      if ((error as { extensions?: { code?: string } }).extensions?.code === 'NOT_FOUND') return null;
      throw error;
    }
  }

  async create(): Promise<CartView> {
    const now = new Date();
    const id = newCartId();
    // The cart and its fact in one transaction (the sales report counts created carts).
    await this.deps.transaction(async (tx) => {
      await this.carts.insertCart(tx, id, null, now);
      await this.deps.outbox.add(tx, CartCreated, id, { cartId: id, guest: true, at: now.toISOString() });
    });
    this.metrics.cartsCreated.inc({ kind: 'guest' });
    return this.view(this.deps.dataSource.manager, (await this.carts.findCart(this.deps.dataSource.manager, id, this.activeSince(now)))!, null);
  }

  /** Runs `change` on the locked cart in one transaction (all or nothing), touches it, answers the cart priced after the change. */
  private async change(identity: Identity | null, cartId: string | null | undefined, change: (tx: EntityManager, cart: CartRow, now: Date) => Promise<Partial<CartRow> | void>): Promise<CartView> {
    return this.deps.transaction(async (tx) => {
      const cart = await this.resolve(tx, identity, cartId, true);
      const now = new Date();
      const patch = (await change(tx, cart, now)) ?? {};
      return this.view(tx, await this.carts.touch(tx, cart.id, now, patch), identity);
    });
  }

  // ------------------------------------------------------------------ pricing a cart

  /** Prices a cart now with `priceCart` (the function checkout uses too). */
  async view(m: EntityManager, cart: CartRow, identity: Identity | null, customerKey: string | null = identity?.userId ?? null): Promise<CartView> {
    const now = new Date();
    // One after the other: in a transaction they share one connection.
    const lines = await this.carts.lines(m, cart.id);
    const coupons = await this.carts.couponsByCode(m, cart.couponCodes, customerKey);
    const methods = await this.carts.shippingMethods(m);
    const taxPpm = cart.shipCountry ? await this.carts.taxRate(m, cart.shipCountry) : 0n;
    const byCode = new Map(coupons.map((c) => [c.code.toUpperCase(), c]));
    const known = cart.couponCodes.map((c) => byCode.get(c.toUpperCase())).filter((c): c is CouponRow & { customerRedemptions: number } => !!c);
    const unknownCodes = cart.couponCodes.filter((c) => !byCode.has(c.toUpperCase()));
    const method = methods.find((x) => x.id === cart.shippingMethodId) ?? null;
    const breakdown = priceCart({ lines, coupons: known, unknownCodes, shippingMethod: method, country: cart.shipCountry, taxPpm, now });
    const productOf = new Map(lines.map((l) => [l.id, l]));
    return {
      cart,
      lines: breakdown.lines.map((l) => {
        const line = productOf.get(l.id)!;
        return { ...l, productId: line.productId, productName: line.product?.name ?? null, quantity: line.quantity };
      }),
      breakdown,
      shippingMethod: method && shipsTo(method, cart.shipCountry, breakdown.currencyCode) ? method : null,
      availableShippingMethods: methods.filter((x) => shipsTo(x, cart.shipCountry, breakdown.currencyCode)),
      expiresAt: new Date(cart.updatedAt.getTime() + this.ttlMs),
    };
  }

  // ------------------------------------------------------------------ lines

  async addToCart(identity: Identity | null, cartId: string | null | undefined, productId: string, quantity: number): Promise<CartView> {
    const pid = productId.trim().toLowerCase();
    if (!isUuid(pid)) throw badUserInput('productId', `Unknown product ${JSON.stringify(productId.slice(0, 60))}.`);
    if (!Number.isInteger(quantity) || quantity < 1 || quantity > MAX_QUANTITY) throw badUserInput('quantity', `Quantity must be between 1 and ${MAX_QUANTITY}.`);
    return this.change(identity, cartId, async (tx, cart, now) => {
      const product = await this.carts.product(tx, pid);
      if (!product || product.deleted) throw badUserInput('productId', `Product ${pid} does not exist or is no longer sold.`);
      const lines = await this.carts.lines(tx, cart.id);
      const existing = lines.find((l) => l.productId === pid);
      const other = lines.find((l) => l.productId !== pid);
      if (other && other.currencyCode !== product.currencyCode) throw badUserInput('productId', `This cart is in ${other.currencyCode}; this product is priced in ${product.currencyCode}.`);
      if (!existing && lines.length >= MAX_LINES) throw badUserInput('productId', `A cart has at most ${MAX_LINES} lines.`);
      const total = (existing?.quantity ?? 0) + quantity;
      if (total > MAX_QUANTITY) throw badUserInput('quantity', `At most ${MAX_QUANTITY} of one product per order (${existing?.quantity ?? 0} already in the cart).`);
      if (product.available !== null && total > product.available) throw badUserInput('quantity', product.available <= 0 ? `${product.name} is out of stock.` : `Only ${product.available} of ${product.name} left.`);
      // Adding accepts the current price for the whole line.
      await this.carts.putLine(tx, cart.id, existing?.id ?? randomUUID(), pid, total, product.priceMinor, product.currencyCode, now);
    });
  }

  async updateLine(identity: Identity | null, cartId: string | null | undefined, lineId: string, quantity: number): Promise<CartView> {
    if (!Number.isInteger(quantity) || quantity < 0 || quantity > MAX_QUANTITY) throw badUserInput('quantity', `Quantity must be between 0 (removes the line) and ${MAX_QUANTITY}.`);
    return this.change(identity, cartId, async (tx, cart, now) => {
      const line = (await this.carts.lines(tx, cart.id)).find((l) => l.id === lineId);
      if (!line) throw notFound('CartLine', lineId);
      if (quantity === 0) return void (await this.carts.deleteLine(tx, cart.id, lineId));
      if (!line.product || line.product.deleted) throw badUserInput('lineId', 'This product is no longer sold: remove the line.');
      if (line.available !== null && quantity > line.available) throw badUserInput('quantity', line.available <= 0 ? `${line.product.name} is out of stock.` : `Only ${line.available} of ${line.product.name} left.`);
      // Changing a line accepts the current price (clears PRICE_CHANGED).
      await this.carts.putLine(tx, cart.id, line.id, line.productId, quantity, line.product.priceMinor, line.product.currencyCode, now);
    });
  }

  async removeLine(identity: Identity | null, cartId: string | null | undefined, lineId: string): Promise<CartView> {
    return this.change(identity, cartId, async (tx, cart) => {
      if (!(await this.carts.lines(tx, cart.id)).some((l) => l.id === lineId)) throw notFound('CartLine', lineId);
      await this.carts.deleteLine(tx, cart.id, lineId);
    });
  }

  // ------------------------------------------------------------------ coupons, shipping

  async applyCoupon(identity: Identity | null, cartId: string | null | undefined, code: string): Promise<CartView> {
    const c = code.trim();
    if (!c || c.length > 64) throw badUserInput('code', 'A coupon code is 1 to 64 characters.');
    return this.change(identity, cartId, async (tx, cart) => {
      if (cart.couponCodes.some((x) => x.toUpperCase() === c.toUpperCase())) return;
      if (cart.couponCodes.length >= MAX_COUPONS) throw badUserInput('code', `A cart holds at most ${MAX_COUPONS} coupons.`);
      const [coupon] = await this.carts.couponsByCode(tx, [c], cart.ownerId);
      if (!coupon) throw badUserInput('code', `There is no coupon ${c}.`);
      const view = await this.view(tx, cart, identity);
      const refusal = couponRefusal(coupon, view.breakdown.subtotal, view.breakdown.currencyCode, new Date());
      if (refusal) throw badUserInput('code', refusal);
      return { couponCodes: [...cart.couponCodes, coupon.code] };
    });
  }

  async removeCoupon(identity: Identity | null, cartId: string | null | undefined, code: string): Promise<CartView> {
    return this.change(identity, cartId, async (_tx, cart) => ({ couponCodes: cart.couponCodes.filter((x) => x.toUpperCase() !== code.trim().toUpperCase()) }));
  }

  async setShipping(identity: Identity | null, cartId: string | null | undefined, address: Parameters<typeof parseAddress>[0], shippingMethodId: string | null | undefined): Promise<CartView> {
    const a = parseAddress(address, 'address');
    if (shippingMethodId && !isUuid(shippingMethodId)) throw badUserInput('shippingMethodId', 'Unknown shipping method.');
    return this.change(identity, cartId, async (tx, cart) => {
      const view = await this.view(tx, cart, identity);
      const methods = (await this.carts.shippingMethods(tx)).filter((x) => shipsTo(x, a.country, view.breakdown.currencyCode));
      if (methods.length === 0) throw badUserInput('address.country', `We do not ship to ${a.country} (no shipping method serves it).`);
      let methodId: string | null = null;
      if (shippingMethodId) {
        const m = methods.find((x) => x.id === shippingMethodId.toLowerCase());
        if (!m) throw badUserInput('shippingMethodId', `This shipping method does not serve ${a.country} in ${view.breakdown.currencyCode}.`);
        methodId = m.id;
      } else if (cart.shippingMethodId && methods.some((x) => x.id === cart.shippingMethodId)) {
        methodId = cart.shippingMethodId;
      }
      return { shipLine1: a.line1, shipLine2: a.line2, shipCity: a.city, shipPostalCode: a.postalCode, shipCountry: a.country, shippingMethodId: methodId } as Partial<CartRow>;
    });
  }

  /**
   * Moves a guest cart's lines into the signed-in user's cart (quantities add up, bounded by the
   * per-line maximum and the stock orders knows of), its coupons and, when the user's cart has
   * none, its address and method; the guest cart is gone after. One transaction.
   */
  async merge(identity: Identity | null, guestCartId: string): Promise<CartView> {
    if (!identity) throw unauthenticated('Sign in to merge a guest cart into your cart.');
    return this.deps.transaction(async (tx) => {
      const now = new Date();
      const guest = await this.carts.findCart(tx, guestCartId, this.activeSince(now), true);
      if (!guest || guest.ownerId !== null) throw notFound('Cart', guestCartId);
      const mine = await this.resolve(tx, identity, null, true);
      const guestLines = await this.carts.lines(tx, guest.id);
      const myLines = await this.carts.lines(tx, mine.id);
      const currency = myLines[0]?.currencyCode ?? guestLines[0]?.currencyCode;
      let count = myLines.length;
      for (const g of guestLines) {
        const existing = myLines.find((l) => l.productId === g.productId);
        if (!g.product || g.product.deleted || g.product.currencyCode !== currency || (!existing && count >= MAX_LINES)) continue;
        const bound = Math.min(MAX_QUANTITY, g.available ?? MAX_QUANTITY);
        const quantity = Math.min((existing?.quantity ?? 0) + g.quantity, bound);
        if (quantity < 1) continue;
        if (!existing) count += 1;
        await this.carts.putLine(tx, mine.id, existing?.id ?? randomUUID(), g.productId, quantity, g.product.priceMinor, g.product.currencyCode, now);
      }
      const codes = [...mine.couponCodes];
      for (const c of guest.couponCodes) if (codes.length < MAX_COUPONS && !codes.some((x) => x.toUpperCase() === c.toUpperCase())) codes.push(c);
      const address = mine.shipCountry
        ? {}
        : { shipLine1: guest.shipLine1, shipLine2: guest.shipLine2, shipCity: guest.shipCity, shipPostalCode: guest.shipPostalCode, shipCountry: guest.shipCountry, shippingMethodId: guest.shippingMethodId };
      await this.carts.deleteCart(tx, guest.id);
      return this.view(tx, await this.carts.touch(tx, mine.id, now, { couponCodes: codes, ...address } as Partial<CartRow>), identity);
    });
  }

  /** The background sweep: removes carts inactive for CART_TTL_DAYS (with `orders.cart-expired.v1`). */
  async expireCarts(now: Date = new Date()): Promise<number> {
    let total = 0;
    for (;;) {
      const ids = await this.deps.transaction(async (tx) => {
        const rows = (await tx.query('SELECT id FROM cart WHERE updated_at < $1 ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED', [this.activeSince(now), SWEEP_BATCH])) as Array<{ id: string }>;
        if (rows.length === 0) return [];
        await tx.query('DELETE FROM cart WHERE id = ANY($1)', [rows.map((r) => r.id)]);
        for (const r of rows) await this.deps.outbox.add(tx, CartExpired, r.id, { cartId: r.id, at: now.toISOString() });
        return rows;
      });
      total += ids.length;
      if (ids.length) this.metrics.cartsExpired.inc(ids.length);
      if (ids.length < SWEEP_BATCH) return total;
    }
  }

  // ------------------------------------------------------------------ checkout

  /**
   * Turns a cart into an order: the server prices it (`priceCart`, from its own read models),
   * refuses it while it has problems, redeems its coupons within their limits, writes the same
   * placement as `placeOrder` and removes the cart, all in one transaction; the saga goes on as for
   * any order. The same idempotency key (per user, or per guest cart) answers the same order.
   */
  async checkout(identity: Identity | null, input: CheckoutInput): Promise<OrderRow> {
    const key = parseIdempotencyKey(input.idempotencyKey, 'input.idempotencyKey');
    const token = requiredText(input.payment.token, 'input.payment.token', 'Payment token', 255);
    const guest = !identity;
    if (guest && !input.cartId) throw badUserInput('input.cartId', 'A guest checks out a cart by its id (createCart).');
    let email: string | null = null;
    if (guest) {
      email = (input.email ?? '').trim().toLowerCase();
      if (!email) throw badUserInput('input.email', 'A guest checkout needs an e-mail address for the confirmation.');
      if (email.length > 254 || !EMAIL.test(email)) throw badUserInput('input.email', 'This is not an e-mail address.');
    }
    this.metrics.checkoutsStarted.inc({ guest: String(guest) });
    const customerKey = identity ? identity.userId : `email:${createHash('sha256').update(email!).digest('hex')}`;
    const outcome = await this.deps.transaction(async (tx) => {
      const now = new Date();
      const cart = input.cartId
        ? await this.carts.findCart(tx, input.cartId, this.activeSince(now), true)
        : await this.carts.findOwnedCart(tx, identity!.userId, this.activeSince(now), true);
      if (cart && cart.ownerId !== null && cart.ownerId !== identity?.userId) throw notFound('Cart', input.cartId ?? '');
      const ownerId = identity ? identity.userId : `guest:${input.cartId}`;
      const known = await this.ordersRepo.findByIdempotencyKey(tx, ownerId, key);
      const view = cart ? await this.view(tx, cart, identity, customerKey) : null;
      const inputHash = createHash('sha256')
        .update(JSON.stringify({ cart: cart?.id, lines: view?.lines.map((l) => [l.productId, l.quantity]), coupons: cart?.couponCodes, method: cart?.shippingMethodId, ship: [cart?.shipLine1, cart?.shipLine2, cart?.shipCity, cart?.shipPostalCode, cart?.shipCountry], token, email }))
        .digest('hex');
      if (known) {
        // The cart it came from is gone (checked out): a replay. Anything else under the key is another order.
        if (!cart || view!.lines.length === 0 || known.inputHash === inputHash) return { order: known, created: false };
        throw conflict('This idempotency key was already used for a different order.', { field: 'input.idempotencyKey' });
      }
      if (!cart) {
        if (input.cartId) throw notFound('Cart', input.cartId);
        throw badUserInput('input.cartId', 'Your cart is empty: add at least one item.');
      }
      const v = view!;
      const b = v.breakdown;
      if (v.lines.length === 0) throw badUserInput('input.cartId', 'Your cart is empty: add at least one item.');
      if (b.problems.length > 0) {
        throw conflict(`This cart cannot be checked out yet: ${b.problems.map((p) => p.message).join(' ')}`, { problems: b.problems.map((p) => ({ code: p.code, lineId: p.lineId })) });
      }
      if (!cart.shipCountry) throw badUserInput('input.cartId', 'Set a shipping address first (setCartShipping).');
      if (!v.shippingMethod || b.shipping === null) throw badUserInput('input.cartId', 'Choose a shipping method first (setCartShipping).');

      const orderId = randomUUID();
      const [seq] = (await tx.query(`SELECT nextval('order_number_seq')::text AS n`)) as Array<{ n: string }>;
      const events: PreparedEvent[] = [];
      for (const c of b.appliedCoupons) {
        if (!(await this.carts.redeem(tx, c.id, orderId, customerKey, now))) throw conflict(`Coupon ${c.code} has just been used up; remove it to check out.`, { field: 'input.cartId', couponCode: c.code });
        events.push(this.deps.outbox.prepare(CouponRedeemed, c.id, { couponId: c.id, code: c.code, orderId, discount: { amount: formatMinor(couponShare(c, b)), currencyCode: b.currencyCode }, redeemedAt: now.toISOString() }));
      }
      const items: OrderItemRow[] = v.lines.map((l, i) => ({
        orderId,
        lineNo: i + 1,
        productId: l.productId,
        productName: l.productName!,
        quantity: l.quantity,
        unitPrice: formatMinor(l.unitPriceMinor),
        lineTotal: formatMinor(l.lineTotalMinor),
      }));
      const address: ShippingAddress = { line1: cart.shipLine1!, line2: cart.shipLine2, city: cart.shipCity!, postalCode: cart.shipPostalCode!, country: cart.shipCountry };
      const guestToken = guest ? this.guestToken(orderId) : null;
      const { order, payment, placed } = this.orders.newPlacement({
        orderId, numberValue: seq!.n, ownerId, idempotencyKey: key, inputHash, currencyCode: b.currencyCode, items, address, paymentToken: token,
        amounts: { subtotal: formatMinor(b.subtotal), discount: formatMinor(b.discount), shipping: formatMinor(b.shipping), tax: formatMinor(b.tax), total: formatMinor(b.total) },
        couponCodes: b.appliedCoupons.map((c) => c.code),
        shippingMethod: { id: v.shippingMethod.id, name: v.shippingMethod.name },
        guest: guestToken ? { guest: true, emailEncrypted: this.cipher.encrypt(email!, `guest-email:${orderId}`), tokenHash: guestTokenHash(guestToken) } : null,
      });
      events.unshift(placed);
      events.push(this.deps.outbox.prepare(CartCheckedOut, cart.id, { cartId: cart.id, orderId, guest, itemCount: b.itemCount, total: { amount: order.total, currencyCode: order.currencyCode }, at: now.toISOString() }));
      if (!(await this.ordersRepo.insertPlacedOrder(order, items, payment, events, tx))) throw conflict('This idempotency key was already used for a different order.', { field: 'input.idempotencyKey' });
      await this.carts.deleteCart(tx, cart.id);
      return { order, created: true, coupons: b.appliedCoupons.length };
    });
    if (outcome.created) {
      this.orders.placedCommitted();
      this.metrics.checkoutsCompleted.inc({ guest: String(guest) });
      this.metrics.checkoutValue.inc({ currency: outcome.order.currencyCode }, Number(outcome.order.total));
      if (outcome.coupons) this.metrics.couponRedemptions.inc(outcome.coupons);
    } else {
      this.metrics.idempotentReplays.inc();
    }
    return outcome.order;
  }

  /**
   * A guest order's token: HMAC-SHA256 of the order id under GUEST_ORDER_TOKEN_SECRET. Only its
   * hash is stored; orders can derive it again for the confirmation mail (see docs/notes/orders.md).
   */
  guestToken(orderId: string): string {
    return createHmac('sha256', this.settings.GUEST_ORDER_TOKEN_SECRET ?? DEVELOPMENT_GUEST_TOKEN_SECRET).update(`guest-order:${orderId}`).digest('base64url');
  }

  /** The guest order a token belongs to (null when none). */
  async guestOrder(token: string): Promise<OrderRow | null> {
    if (!token || token.length > 100) return null;
    return this.ordersRepo.findByGuestTokenHash(guestTokenHash(token));
  }

  /** The e-mail a guest gave at checkout (decrypted), for the order's confirmation. */
  guestEmail(order: OrderRow): string | null {
    return order.emailEncrypted ? this.cipher.decrypt(order.emailEncrypted, `guest-email:${order.id}`) : null;
  }

  /** The link mailed to a guest (GUEST_ORDER_LINK_BASE + token). */
  guestLink(orderId: string): { token: string; link: string } {
    const token = this.guestToken(orderId);
    return { token, link: `${this.settings.GUEST_ORDER_LINK_BASE}${encodeURIComponent(token)}` };
  }

  // ------------------------------------------------------------------ admin

  async shippingMethods(): Promise<ShippingMethodRow[]> {
    return this.carts.shippingMethods(this.deps.dataSource.manager);
  }

  async shippingMethod(id: string): Promise<ShippingMethodRow | null> {
    return isUuid(id) ? this.carts.shippingMethod(this.deps.dataSource.manager, id) : null;
  }

  async createShippingMethod(ctx: { identity: Identity | null }, input: CreateShippingMethodInput): Promise<ShippingMethodRow> {
    requireAdmin(ctx);
    const name = requiredText(input.name, 'input.name', 'Name', 100);
    const countries = [...new Set((input.countries ?? []).map((c) => c.trim().toUpperCase()))];
    countries.forEach((c, i) => {
      if (!/^[A-Z]{2}$/.test(c) || !isCountryCode(c)) throw badUserInput(`input.countries[${i}]`, 'Country must be an ISO 3166-1 alpha-2 code such as "US" or "DE".');
    });
    const row: ShippingMethodRow = {
      id: randomUUID(),
      name,
      priceMinor: moneyInput(input.price, 'input.price'),
      freeOverMinor: input.freeOver ? moneyInput(input.freeOver, 'input.freeOver') : null,
      currencyCode: currencyInput(input.currencyCode, 'input.currencyCode'),
      estimatedDays: countInput(input.estimatedDays, 'input.estimatedDays', 365),
      countries,
    };
    await this.carts.insertShippingMethod(this.deps.dataSource.manager, row);
    return row;
  }

  async taxRates(): Promise<Array<{ country: string; ratePpm: bigint }>> {
    return this.carts.taxRates(this.deps.dataSource.manager);
  }

  async setTaxRate(ctx: { identity: Identity | null }, country: string, rate: string): Promise<{ country: string; ratePpm: bigint }> {
    requireAdmin(ctx);
    const c = country.trim().toUpperCase();
    if (!/^[A-Z]{2}$/.test(c) || !isCountryCode(c)) throw badUserInput('country', 'Country must be an ISO 3166-1 alpha-2 code such as "US" or "DE".');
    const ratePpm = rateInput(rate, 'rate');
    await this.carts.setTaxRate(this.deps.dataSource.manager, c, ratePpm);
    return { country: c, ratePpm };
  }

  async coupons(ctx: { identity: Identity | null }): Promise<CouponRow[]> {
    requireAdmin(ctx);
    return this.carts.coupons(this.deps.dataSource.manager);
  }

  async createCoupon(ctx: { identity: Identity | null }, input: CreateCouponInput): Promise<CouponRow> {
    requireAdmin(ctx);
    const code = requiredText(input.code, 'input.code', 'Code', 64);
    if (!/^[A-Za-z0-9_-]+$/.test(code)) throw badUserInput('input.code', 'A code has only letters, digits, - and _.');
    let percentPpm: bigint | null = null;
    let fixedMinor: bigint | null = null;
    if (input.kind === 'PERCENT') {
      const scaled = parseScaled(input.value, 4);
      if (scaled === null || scaled <= 0n || scaled > 1_000_000n) throw badUserInput('input.value', 'A percentage is more than 0 and at most 100 (e.g. "10" or "12.5").');
      percentPpm = scaled; // value × 10^4 = ppm of the amount (10 % = 100000 ppm)
      if (percentPpm > PPM) throw badUserInput('input.value', 'At most 100 %.');
    } else {
      fixedMinor = moneyInput(input.value, 'input.value');
      if (fixedMinor <= 0n) throw badUserInput('input.value', 'A fixed discount is more than 0.');
    }
    const validFrom = dateInput(input.validFrom, 'input.validFrom');
    const validUntil = dateInput(input.validUntil, 'input.validUntil');
    if (validFrom && validUntil && validUntil <= validFrom) throw badUserInput('input.validUntil', 'validUntil must be after validFrom.');
    const row: CouponRow = {
      id: randomUUID(),
      code,
      kind: input.kind,
      value: input.value.trim(),
      percentPpm,
      fixedMinor,
      currencyCode: currencyInput(input.currencyCode, 'input.currencyCode'),
      minSubtotalMinor: input.minSubtotal ? moneyInput(input.minSubtotal, 'input.minSubtotal') : null,
      validFrom,
      validUntil,
      maxRedemptions: countInput(input.maxRedemptions, 'input.maxRedemptions'),
      maxRedemptionsPerCustomer: countInput(input.maxRedemptionsPerCustomer, 'input.maxRedemptionsPerCustomer'),
      redemptions: 0,
    };
    if (!(await this.carts.insertCoupon(this.deps.dataSource.manager, row))) throw conflict(`A coupon ${code} exists already.`, { field: 'input.code' });
    return row;
  }
}

/** An unguessable cart id (144 random bits). */
function newCartId(): string {
  return `cart_${randomBytes(18).toString('base64url')}`;
}

/** What one coupon took off (for its event): its own amount, within the cart's capped discount. */
function couponShare(c: PricingCoupon, b: Breakdown): bigint {
  const own = c.kind === 'PERCENT' ? applyRate(b.subtotal, c.percentPpm!) : c.fixedMinor!;
  return own < b.discount ? own : b.discount;
}
