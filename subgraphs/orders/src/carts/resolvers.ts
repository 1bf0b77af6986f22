/** Resolvers of carts, pricing, checkout and guest orders (issue 18): arguments, then the cart service, then mappings. */
import type { Identity } from '@shop/platform';
import { notFound } from '@shop/platform';
import type { OrdersContext } from '../context';
import type { CartProblem } from '../domain/pricing';
import { formatMinor, formatPpm } from '../domain/pricing';
import type { CouponRow, ShippingMethodRow } from '../persistence/carts.repository';
import type { OrderRow } from '../persistence/entities';
import type { CartView, CheckoutInput, CreateCouponInput, CreateShippingMethodInput } from './cart.service';

const money = (minor: bigint, currencyCode: string) => ({ amount: formatMinor(minor), currencyCode });
type CartArgs = { cartId?: string | null };
type Address = { line1: string; line2?: string | null; city: string; postalCode: string; country: string };

/** The guest holding a token acts as the order's owner (the same rules as cancelOrder for the owner). */
function guestIdentity(order: OrderRow): Identity {
  return { userId: order.userId, roles: ['CUSTOMER'], sessionId: 'guest-order-token', exp: 0 };
}

export const cartResolvers = {
  Query: {
    cart: (_: unknown, { id }: { id?: string | null }, ctx: OrdersContext) => ctx.orders.carts.find(ctx.identity, id),
    shippingMethods: (_: unknown, __: unknown, ctx: OrdersContext) => ctx.orders.carts.shippingMethods(),
    coupons: (_: unknown, __: unknown, ctx: OrdersContext) => ctx.orders.carts.coupons(ctx),
    taxRates: (_: unknown, __: unknown, ctx: OrdersContext) => ctx.orders.carts.taxRates(),
    guestOrder: (_: unknown, { token }: { token: string }, ctx: OrdersContext) => ctx.orders.carts.guestOrder(token),
  },
  Mutation: {
    createCart: (_: unknown, __: unknown, ctx: OrdersContext) => ctx.orders.carts.create(),
    addToCart: (_: unknown, a: CartArgs & { productId: string; quantity: number }, ctx: OrdersContext) => ctx.orders.carts.addToCart(ctx.identity, a.cartId, a.productId, a.quantity),
    updateCartLine: (_: unknown, a: CartArgs & { lineId: string; quantity: number }, ctx: OrdersContext) => ctx.orders.carts.updateLine(ctx.identity, a.cartId, a.lineId, a.quantity),
    removeCartLine: (_: unknown, a: CartArgs & { lineId: string }, ctx: OrdersContext) => ctx.orders.carts.removeLine(ctx.identity, a.cartId, a.lineId),
    applyCoupon: (_: unknown, a: CartArgs & { code: string }, ctx: OrdersContext) => ctx.orders.carts.applyCoupon(ctx.identity, a.cartId, a.code),
    removeCoupon: (_: unknown, a: CartArgs & { code: string }, ctx: OrdersContext) => ctx.orders.carts.removeCoupon(ctx.identity, a.cartId, a.code),
    setCartShipping: (_: unknown, a: CartArgs & { address: Address; shippingMethodId?: string | null }, ctx: OrdersContext) =>
      ctx.orders.carts.setShipping(ctx.identity, a.cartId, a.address, a.shippingMethodId),
    mergeCart: (_: unknown, a: { guestCartId: string }, ctx: OrdersContext) => ctx.orders.carts.merge(ctx.identity, a.guestCartId),
    checkout: (_: unknown, { input }: { input: CheckoutInput }, ctx: OrdersContext) => ctx.orders.carts.checkout(ctx.identity, input),
    cancelGuestOrder: async (_: unknown, a: { token: string; reason?: string | null }, ctx: OrdersContext) => {
      const order = await ctx.orders.carts.guestOrder(a.token);
      // An invalid token names nothing: the same answer as an unknown order.
      if (!order) throw notFound('Guest order', 'of this token');
      return ctx.orders.service.cancelOrder(guestIdentity(order), order.id, a.reason);
    },
    createShippingMethod: (_: unknown, { input }: { input: CreateShippingMethodInput }, ctx: OrdersContext) => ctx.orders.carts.createShippingMethod(ctx, input),
    createCoupon: (_: unknown, { input }: { input: CreateCouponInput }, ctx: OrdersContext) => ctx.orders.carts.createCoupon(ctx, input),
    setTaxRate: (_: unknown, a: { country: string; rate: string }, ctx: OrdersContext) => ctx.orders.carts.setTaxRate(ctx, a.country, a.rate),
  },
  Cart: {
    id: (v: CartView) => v.cart.id,
    lines: (v: CartView) => v.lines.map((l) => ({ ...l, currencyCode: v.breakdown.currencyCode })),
    itemCount: (v: CartView) => v.breakdown.itemCount,
    subtotal: (v: CartView) => money(v.breakdown.subtotal, v.breakdown.currencyCode),
    discount: (v: CartView) => money(v.breakdown.discount, v.breakdown.currencyCode),
    shipping: (v: CartView) => (v.breakdown.shipping === null ? null : money(v.breakdown.shipping, v.breakdown.currencyCode)),
    tax: (v: CartView) => money(v.breakdown.tax, v.breakdown.currencyCode),
    total: (v: CartView) => money(v.breakdown.total, v.breakdown.currencyCode),
    couponCodes: (v: CartView) => v.cart.couponCodes,
    shippingAddress: ({ cart: c }: CartView) =>
      c.shipCountry ? { line1: c.shipLine1, line2: c.shipLine2, city: c.shipCity, postalCode: c.shipPostalCode, country: c.shipCountry } : null,
    shippingMethod: (v: CartView) => v.shippingMethod,
    availableShippingMethods: (v: CartView) => v.availableShippingMethods,
    problems: (v: CartView): readonly CartProblem[] => v.breakdown.problems,
    updatedAt: (v: CartView) => v.cart.updatedAt.toISOString(),
    expiresAt: (v: CartView) => v.expiresAt.toISOString(),
  },
  CartLine: {
    product: (l: { productId: string }) => ({ __typename: 'Product', id: l.productId }),
    unitPrice: (l: { unitPriceMinor: bigint; currencyCode: string }) => money(l.unitPriceMinor, l.currencyCode),
    lineTotal: (l: { lineTotalMinor: bigint; currencyCode: string }) => money(l.lineTotalMinor, l.currencyCode),
  },
  ShippingMethod: {
    price: (m: ShippingMethodRow) => money(m.priceMinor, m.currencyCode),
    freeOver: (m: ShippingMethodRow) => (m.freeOverMinor === null ? null : money(m.freeOverMinor, m.currencyCode)),
  },
  Coupon: {
    minSubtotal: (c: CouponRow) => (c.minSubtotalMinor === null ? null : money(c.minSubtotalMinor, c.currencyCode)),
    validFrom: (c: CouponRow) => c.validFrom?.toISOString() ?? null,
    validUntil: (c: CouponRow) => c.validUntil?.toISOString() ?? null,
  },
  TaxRate: {
    rate: (t: { ratePpm: bigint }) => formatPpm(t.ratePpm),
  },
};

/** The Order fields of issue 18 (merged into the Order resolvers). */
export const orderPricingResolvers = {
  discount: (o: OrderRow) => ({ amount: o.discount, currencyCode: o.currencyCode }),
  shipping: (o: OrderRow) => ({ amount: o.shipping, currencyCode: o.currencyCode }),
  tax: (o: OrderRow) => ({ amount: o.tax, currencyCode: o.currencyCode }),
  couponCodes: (o: OrderRow) => o.couponCodes,
  shippingMethod: (o: OrderRow, _: unknown, ctx: OrdersContext) => (o.shippingMethodId ? ctx.orders.carts.shippingMethod(o.shippingMethodId) : null),
  isGuest: (o: OrderRow) => o.guest,
  // A guest's own address (decrypted); an account's comes from users (@requires user { email }).
  email: (o: OrderRow & { requiredUser?: { email?: string | null } | null }, _: unknown, ctx: OrdersContext) =>
    o.guest ? ctx.orders.carts.guestEmail(o) : (o.requiredUser?.email ?? ''),
};
