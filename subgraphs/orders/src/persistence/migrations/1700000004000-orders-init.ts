import type { MigrationInterface, QueryRunner } from 'typeorm';

export class OrdersInit1700000004000 implements MigrationInterface {
  readonly name = 'OrdersInit1700000004000';

  async up(q: QueryRunner): Promise<void> {
    // The orders' own read model of the catalog: checkout never calls another service.
    await q.query(`
      CREATE TABLE product_snapshot (
        product_id uuid PRIMARY KEY,
        name text NOT NULL,
        price numeric(12, 2) NOT NULL,
        currency_code char(3) NOT NULL,
        deleted boolean NOT NULL DEFAULT false,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    // Feeds the human-friendly order numbers (see domain/order-number.ts).
    await q.query('CREATE SEQUENCE order_number_seq');
    await q.query(`
      CREATE TABLE orders (
        id uuid PRIMARY KEY,
        number text NOT NULL UNIQUE,
        user_id text NOT NULL,
        status text NOT NULL CHECK (status IN ('PENDING', 'CONFIRMED', 'SHIPPED', 'DELIVERED', 'CANCELLED', 'REJECTED')),
        rejection_reason text,
        cancel_reason text,
        idempotency_key text NOT NULL,
        input_hash text NOT NULL,
        currency_code text NOT NULL,
        subtotal numeric(12, 2) NOT NULL CHECK (subtotal >= 0),
        total numeric(12, 2) NOT NULL CHECK (total >= 0),
        ship_line1 text NOT NULL,
        ship_line2 text,
        ship_city text NOT NULL,
        ship_postal_code text NOT NULL,
        ship_country text NOT NULL,
        carrier text,
        tracking_number text,
        shipped_at timestamptz,
        delivered_at timestamptz,
        stock_reserved_at timestamptz,
        cancellable_until timestamptz NOT NULL,
        saga_deadline timestamptz NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        -- Idempotent checkout: one order per (user, key), whatever the concurrency.
        CONSTRAINT orders_idempotency UNIQUE (user_id, idempotency_key)
      )`);
    await q.query('CREATE INDEX orders_by_user ON orders (user_id, created_at DESC, id DESC)');
    await q.query('CREATE INDEX orders_by_status ON orders (status, created_at DESC, id DESC)');
    await q.query('CREATE INDEX orders_by_created ON orders (created_at DESC, id DESC)');
    // Only open sagas are ever swept: a small partial index.
    await q.query(`CREATE INDEX orders_saga_due ON orders (saga_deadline) WHERE status = 'PENDING'`);
    await q.query(`CREATE INDEX orders_in_fulfilment ON orders (updated_at) WHERE status IN ('CONFIRMED', 'SHIPPED')`);
    await q.query(`
      CREATE TABLE order_item (
        order_id uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
        line_no int NOT NULL,
        product_id uuid NOT NULL,
        product_name text NOT NULL,
        quantity int NOT NULL CHECK (quantity BETWEEN 1 AND 100),
        unit_price numeric(12, 2) NOT NULL CHECK (unit_price >= 0),
        line_total numeric(12, 2) NOT NULL CHECK (line_total >= 0),
        PRIMARY KEY (order_id, line_no)
      )`);
    await q.query(`
      CREATE TABLE order_status_change (
        id bigserial PRIMARY KEY,
        order_id uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
        status text NOT NULL,
        reason text,
        at timestamptz NOT NULL
      )`);
    await q.query('CREATE INDEX order_status_change_by_order ON order_status_change (order_id, id)');
    // One payment per order. Never card data: a single-use provider token until the charge is
    // resolved (then cleared), the last four digits and the provider's charge id.
    await q.query(`
      CREATE TABLE payment (
        order_id uuid PRIMARY KEY REFERENCES orders (id) ON DELETE CASCADE,
        provider text NOT NULL,
        status text NOT NULL CHECK (status IN ('CREATED', 'PENDING', 'CAPTURED', 'DECLINED', 'VOID_PENDING', 'VOIDED', 'REFUND_PENDING', 'REFUNDED')),
        amount numeric(12, 2) NOT NULL,
        currency_code text NOT NULL,
        token text,
        last4 text,
        charge_id text,
        refund_id text,
        decline_reason text,
        charge_attempted boolean NOT NULL DEFAULT false,
        attempts int NOT NULL DEFAULT 0,
        next_attempt_at timestamptz,
        locked_until timestamptz,
        last_error text,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
      )`);
    await q.query(`CREATE INDEX payment_due ON payment (next_attempt_at) WHERE status IN ('PENDING', 'VOID_PENDING', 'REFUND_PENDING')`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE payment');
    await q.query('DROP TABLE order_status_change');
    await q.query('DROP TABLE order_item');
    await q.query('DROP TABLE orders');
    await q.query('DROP SEQUENCE order_number_seq');
    await q.query('DROP TABLE product_snapshot');
  }
}
