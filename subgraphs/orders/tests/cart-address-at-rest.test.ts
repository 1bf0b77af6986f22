/** Carts' shipping addresses at rest (issue 20): written as envelopes bound to their cart and column; carts left in plaintext by older versions are encrypted by the start-up job. */
import { randomBytes, randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { createDataSource, PiiCipher, PlatformOutboxInbox1700000000000 } from '@shop/platform';
import { createTestDatabase } from '@shop/platform/testing';
import type { TestDatabase } from '@shop/platform/testing';
import { CartsRepository } from '../src/persistence/carts.repository';
import { ORDERS_ENTITIES } from '../src/persistence/entities';
import { OrdersInit1700000004000 } from '../src/persistence/migrations/1700000004000-orders-init';
import { CartsPricing1700000300000 } from '../src/persistence/migrations/1700000300000-carts-pricing';
import { OrdersCustomerErasure1700000400001 } from '../src/persistence/migrations/1700000400001-orders-customer-erasure';
import { CartsShippingEncryption1700000400100 } from '../src/persistence/migrations/1700000400100-carts-shipping-encryption';
import { ShippingPrivacy } from '../src/privacy/shipping-privacy';

describe('cart addresses at rest', () => {
  let db: TestDatabase;
  let ds: DataSource;
  const privacy = new ShippingPrivacy(new PiiCipher(`test:${randomBytes(32).toString('base64')}`));
  const carts = new CartsRepository(privacy);
  const since = new Date(0);
  beforeAll(async () => {
    db = await createTestDatabase('orders_cart_addresses');
    ds = createDataSource({
      url: db.url,
      name: 'orders-cart-addresses-test',
      entities: ORDERS_ENTITIES,
      migrations: [PlatformOutboxInbox1700000000000, OrdersInit1700000004000, CartsPricing1700000300000, OrdersCustomerErasure1700000400001, CartsShippingEncryption1700000400100],
    });
    await ds.initialize();
    await ds.runMigrations();
  });
  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  it('should store a cart address encrypted, read it back, and encrypt addresses left in plaintext by older versions', async () => {
    const fresh = randomUUID();
    await carts.insertCart(ds.manager, fresh, 'user-1', new Date());
    await carts.touch(ds.manager, fresh, new Date(), { shipLine1: '12 Juniper Walk', shipLine2: 'Flat 3', shipCity: 'Ashcombe', shipPostalCode: 'AB1 2CD', shipCountry: 'GB' });
    const legacy = randomUUID();
    await ds.query("INSERT INTO cart (id, ship_line1, ship_line2, ship_city, ship_postal_code, ship_country, created_at, updated_at) VALUES ($1, '7 Mulberry Row', NULL, 'Dunmere', 'ZZ9 9ZZ', 'GB', now(), now())", [legacy]);
    const empty = randomUUID();
    await carts.insertCart(ds.manager, empty, null, new Date());

    // Before the job: the legacy cart is read as it is; the fresh one is already ciphertext.
    expect(await carts.findCart(ds.manager, legacy, since)).toMatchObject({ shipLine1: '7 Mulberry Row', shipCity: 'Dunmere', shipPostalCode: 'ZZ9 9ZZ' });
    expect(await privacy.encryptLegacyCarts(ds, 100)).toBe(1);
    expect(await privacy.encryptLegacyCarts(ds, 100)).toBe(0);

    const raw = (await ds.query('SELECT t::text AS row FROM cart t')) as Array<{ row: string }>;
    expect(raw).toHaveLength(3);
    expect(JSON.stringify(raw)).not.toMatch(/Juniper|Flat 3|Ashcombe|AB1 2CD|Mulberry|Dunmere|ZZ9 9ZZ/);
    expect(JSON.stringify(raw)).toContain('GB'); // the country stays clear (tax rates and shipping methods)
    expect(await carts.findCart(ds.manager, fresh, since)).toMatchObject({ shipLine1: '12 Juniper Walk', shipLine2: 'Flat 3', shipCity: 'Ashcombe', shipPostalCode: 'AB1 2CD', shipCountry: 'GB' });
    expect(await carts.findOwnedCart(ds.manager, 'user-1', since)).toMatchObject({ id: fresh, shipLine1: '12 Juniper Walk' });
    expect(await carts.findCart(ds.manager, legacy, since)).toMatchObject({ shipLine1: '7 Mulberry Row', shipLine2: null, shipCity: 'Dunmere', shipPostalCode: 'ZZ9 9ZZ' });
    expect(await carts.findCart(ds.manager, empty, since)).toMatchObject({ shipLine1: null, shipCity: null, shipCountry: null });

    // An envelope is bound to its cart and column: copied to another cart or column it does not open.
    await ds.query('UPDATE cart SET ship_line1 = (SELECT ship_line1 FROM cart WHERE id = $1) WHERE id = $2', [fresh, legacy]);
    await expect(carts.findCart(ds.manager, legacy, since)).rejects.toThrow();
    await ds.query('UPDATE cart SET ship_city = ship_postal_code WHERE id = $1', [fresh]);
    await expect(carts.findCart(ds.manager, fresh, since)).rejects.toThrow();
  });
});
