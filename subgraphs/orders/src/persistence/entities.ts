/** TypeORM entity schemas and their row types (money columns are numeric, read as strings). */
import { EntitySchema } from 'typeorm';
import type { OrderStatus } from '../domain/order-status';
import type { PaymentStatus } from '../domain/payment-status';
import type { PaymentAction } from '../payments/payment-provider';

export interface OrderRow {
  id: string;
  number: string;
  userId: string;
  status: OrderStatus;
  rejectionReason: string | null;
  cancelReason: string | null;
  idempotencyKey: string;
  inputHash: string;
  currencyCode: string;
  subtotal: string;
  /** Issue 18: the breakdown frozen at checkout (total = subtotal - discount + shipping + tax); 0 for placeOrder. */
  discount: string;
  shipping: string;
  tax: string;
  total: string;
  couponCodes: string[];
  shippingMethodId: string | null;
  shippingMethodName: string | null;
  /** A guest checkout: `userId` is `guest:<cart id>`, the e-mail is encrypted, the token hashed. */
  guest: boolean;
  emailEncrypted: string | null;
  guestTokenHash: string | null;
  shipLine1: string;
  shipLine2: string | null;
  shipCity: string;
  shipPostalCode: string;
  shipCountry: string;
  carrier: string | null;
  trackingNumber: string | null;
  shippedAt: Date | null;
  deliveredAt: Date | null;
  stockReservedAt: Date | null;
  cancellableUntil: Date;
  sagaDeadline: Date;
  createdAt: Date;
  updatedAt: Date;
}

export interface OrderItemRow {
  orderId: string;
  lineNo: number;
  productId: string;
  productName: string;
  quantity: number;
  unitPrice: string;
  lineTotal: string;
}

export interface StatusChangeRow {
  id: string;
  orderId: string;
  status: OrderStatus;
  reason: string | null;
  at: Date;
}

export interface PaymentRow {
  orderId: string;
  provider: string;
  status: PaymentStatus;
  amount: string;
  currencyCode: string;
  token: string | null;
  last4: string | null;
  chargeId: string | null;
  refundId: string | null;
  declineReason: string | null;
  chargeAttempted: boolean;
  attempts: number;
  nextAttemptAt: Date | null;
  lockedUntil: Date | null;
  lastError: string | null;
  /** Issue 19: what the customer must do while the payment is REQUIRES_ACTION (absent from reads that do not need it). */
  nextAction?: PaymentAction | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface ProductSnapshotRow {
  productId: string;
  name: string;
  price: string;
  currencyCode: string;
  deleted: boolean;
  updatedAt: Date;
}

const ts = (name: string, nullable = false) => ({ type: 'timestamptz' as const, name, nullable });

export const OrderEntity = new EntitySchema<OrderRow>({
  name: 'Order',
  tableName: 'orders',
  columns: {
    id: { type: 'uuid', primary: true },
    number: { type: 'text' },
    userId: { type: 'text', name: 'user_id' },
    status: { type: 'text' },
    rejectionReason: { type: 'text', name: 'rejection_reason', nullable: true },
    cancelReason: { type: 'text', name: 'cancel_reason', nullable: true },
    idempotencyKey: { type: 'text', name: 'idempotency_key' },
    inputHash: { type: 'text', name: 'input_hash' },
    currencyCode: { type: 'text', name: 'currency_code' },
    subtotal: { type: 'numeric', precision: 12, scale: 2 },
    discount: { type: 'numeric', precision: 12, scale: 2 },
    shipping: { type: 'numeric', precision: 12, scale: 2 },
    tax: { type: 'numeric', precision: 12, scale: 2 },
    total: { type: 'numeric', precision: 12, scale: 2 },
    couponCodes: { type: 'text', array: true, name: 'coupon_codes' },
    shippingMethodId: { type: 'uuid', name: 'shipping_method_id', nullable: true },
    shippingMethodName: { type: 'text', name: 'shipping_method_name', nullable: true },
    guest: { type: 'boolean' },
    emailEncrypted: { type: 'text', name: 'email_encrypted', nullable: true },
    guestTokenHash: { type: 'text', name: 'guest_token_hash', nullable: true },
    shipLine1: { type: 'text', name: 'ship_line1' },
    shipLine2: { type: 'text', name: 'ship_line2', nullable: true },
    shipCity: { type: 'text', name: 'ship_city' },
    shipPostalCode: { type: 'text', name: 'ship_postal_code' },
    shipCountry: { type: 'text', name: 'ship_country' },
    carrier: { type: 'text', nullable: true },
    trackingNumber: { type: 'text', name: 'tracking_number', nullable: true },
    shippedAt: ts('shipped_at', true),
    deliveredAt: ts('delivered_at', true),
    stockReservedAt: ts('stock_reserved_at', true),
    cancellableUntil: ts('cancellable_until'),
    sagaDeadline: ts('saga_deadline'),
    createdAt: ts('created_at'),
    updatedAt: ts('updated_at'),
  },
});

export const OrderItemEntity = new EntitySchema<OrderItemRow>({
  name: 'OrderItem',
  tableName: 'order_item',
  columns: {
    orderId: { type: 'uuid', name: 'order_id', primary: true },
    lineNo: { type: 'int', name: 'line_no', primary: true },
    productId: { type: 'uuid', name: 'product_id' },
    productName: { type: 'text', name: 'product_name' },
    quantity: { type: 'int' },
    unitPrice: { type: 'numeric', name: 'unit_price', precision: 12, scale: 2 },
    lineTotal: { type: 'numeric', name: 'line_total', precision: 12, scale: 2 },
  },
});

export const StatusChangeEntity = new EntitySchema<StatusChangeRow>({
  name: 'OrderStatusChange',
  tableName: 'order_status_change',
  columns: {
    id: { type: 'bigint', primary: true, generated: 'increment' },
    orderId: { type: 'uuid', name: 'order_id' },
    status: { type: 'text' },
    reason: { type: 'text', nullable: true },
    at: ts('at'),
  },
});

export const PaymentEntity = new EntitySchema<PaymentRow>({
  name: 'Payment',
  tableName: 'payment',
  columns: {
    orderId: { type: 'uuid', name: 'order_id', primary: true },
    provider: { type: 'text' },
    status: { type: 'text' },
    amount: { type: 'numeric', precision: 12, scale: 2 },
    currencyCode: { type: 'text', name: 'currency_code' },
    token: { type: 'text', nullable: true },
    last4: { type: 'text', nullable: true },
    chargeId: { type: 'text', name: 'charge_id', nullable: true },
    refundId: { type: 'text', name: 'refund_id', nullable: true },
    declineReason: { type: 'text', name: 'decline_reason', nullable: true },
    chargeAttempted: { type: 'boolean', name: 'charge_attempted' },
    attempts: { type: 'int' },
    nextAttemptAt: ts('next_attempt_at', true),
    lockedUntil: ts('locked_until', true),
    lastError: { type: 'text', name: 'last_error', nullable: true },
    nextAction: { type: 'jsonb', name: 'next_action', nullable: true },
    createdAt: ts('created_at'),
    updatedAt: ts('updated_at'),
  },
});

export const ProductSnapshotEntity = new EntitySchema<ProductSnapshotRow>({
  name: 'ProductSnapshot',
  tableName: 'product_snapshot',
  columns: {
    productId: { type: 'uuid', name: 'product_id', primary: true },
    name: { type: 'text' },
    price: { type: 'numeric', precision: 12, scale: 2 },
    currencyCode: { type: 'char', length: 3, name: 'currency_code' },
    deleted: { type: 'boolean' },
    updatedAt: ts('updated_at'),
  },
});

export const ORDERS_ENTITIES = [OrderEntity, OrderItemEntity, StatusChangeEntity, PaymentEntity, ProductSnapshotEntity];
