/**
 * Account security through the gateway: brute-force limits, roles and privacy, forged identities
 * and personal data at rest. Nothing here depends on the event bus, so it runs on the in-process
 * one only (lifecycle.*.test.ts covers both buses).
 */
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { eventually, postAsGateway } from '@shop/platform/testing';
import type { TestShop } from '../support/harness';
import { errorCode, startTestShop } from '../support/harness';
import type { AuthPayload } from './support';
import { ADD_ADDRESS, failure, LOGIN, ME, REFRESH, registerAccount } from './support';

const SET_ROLES = 'mutation SetRoles($id: ID!, $roles: [Role!]!) { setUserRoles(id: $id, roles: $roles) { id roles } }';
const USER = 'query User($id: ID!) { user(id: $id) { id email username roles } }';

describe('account security through the gateway', () => {
  let shop: TestShop;
  beforeAll(async () => {
    shop = await startTestShop({ bus: 'in-process' });
  });
  afterAll(async () => {
    await shop?.stop();
  });

  it('should rate-limit repeated bad logins of one account from one address, even with the right password, without locking others out', async () => {
    const { input, auth } = await registerAccount(shop);
    const other = await registerAccount(shop);
    for (let i = 0; i < 5; i++) expect(errorCode(await shop.gql(LOGIN, { email: input.email, password: `wrong-password-${i}` }))).toBe('UNAUTHENTICATED');
    const limited = await shop.gql(LOGIN, { email: input.email, password: 'wrong-password-6' });
    expect(errorCode(limited)).toBe('RATE_LIMITED');
    const retryAfter = limited.errors?.[0]?.extensions?.['retryAfterSeconds'];
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(900);
    expect(errorCode(await shop.gql(LOGIN, { email: input.email, password: input.password }))).toBe('RATE_LIMITED');
    // Another account from the same address is not affected.
    expect((await shop.gql(LOGIN, { email: other.input.email, password: other.input.password })).errors).toBeUndefined();
    // The account itself still works where it is signed in (refresh needs no password).
    expect((await shop.gql(REFRESH, { refreshToken: auth.refreshToken })).errors).toBeUndefined();
  });

  it('should keep user(id) and setUserRoles for admins, apply a promotion on refresh and sign a demoted admin out at once', async () => {
    const { auth } = await registerAccount(shop);
    expect(errorCode(await shop.gql(USER, { id: auth.user.id }))).toBe('UNAUTHENTICATED');
    expect(errorCode(await shop.gql(USER, { id: auth.user.id }, auth.accessToken))).toBe('FORBIDDEN');
    expect(errorCode(await shop.gql(SET_ROLES, { id: auth.user.id, roles: ['ADMIN'] }, auth.accessToken))).toBe('FORBIDDEN');

    const admin = await shop.tokenFor({ roles: ['CUSTOMER', 'ADMIN'] });
    expect((await shop.gql(USER, { id: auth.user.id }, admin)).data.user).toMatchObject({ id: auth.user.id, roles: ['CUSTOMER'] });
    expect((await shop.gql(USER, { id: randomUUID() }, admin)).data.user).toBeNull();
    expect(errorCode(await shop.gql(SET_ROLES, { id: randomUUID(), roles: ['ADMIN'] }, admin))).toBe('NOT_FOUND');
    expect(failure(await shop.gql(SET_ROLES, { id: auth.user.id, roles: [] }, admin))).toEqual({ code: 'BAD_USER_INPUT', field: 'roles' });

    const promoted = await shop.gql(SET_ROLES, { id: auth.user.id, roles: ['ADMIN'] }, admin);
    expect(promoted.data.setUserRoles).toEqual({ id: auth.user.id, roles: ['CUSTOMER', 'ADMIN'] });
    const refreshed = (await shop.gql<{ refreshToken: AuthPayload }>(REFRESH, { refreshToken: auth.refreshToken })).data!.refreshToken;
    expect(refreshed.user.roles).toEqual(['CUSTOMER', 'ADMIN']);
    expect((await shop.gql(USER, { id: auth.user.id }, refreshed.accessToken)).errors).toBeUndefined();

    // Demotion revokes the sessions: the ADMIN token stops working (the gateway learns it from the bus).
    expect((await shop.gql(SET_ROLES, { id: auth.user.id, roles: ['CUSTOMER'] }, admin)).data.setUserRoles.roles).toEqual(['CUSTOMER']);
    await eventually(async () => errorCode(await shop.gql(ME, {}, refreshed.accessToken)) === 'UNAUTHENTICATED');
  });

  it("should hide another account's private fields and show them to the owner and admins", async () => {
    const { auth } = await registerAccount(shop, { phone: '+33142685300' });
    const users = shop.supergraph.services.users.url;
    const query = 'query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id username createdAt email phone } } }';
    const variables = { r: [{ __typename: 'User', id: auth.user.id }] };
    const as = (userId: string, roles: Array<'CUSTOMER' | 'ADMIN'>) => ({ userId, roles, sessionId: randomUUID(), exp: Math.floor(Date.now() / 1000) + 60 });
    // As the gateway asks for the entity (signed for users), on behalf of each caller.
    const entity = async (identity: ReturnType<typeof as> | null, q = query): Promise<any> => postAsGateway(users, { secret: shop.internalAuthSecret, audience: 'users', query: q, variables, identity });
    const stranger = await entity(as(randomUUID(), ['CUSTOMER']));
    expect(stranger.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const owner = await entity(as(auth.user.id, ['CUSTOMER']));
    expect(owner.data._entities[0]).toMatchObject({ id: auth.user.id, phone: '+33142685300' });
    const admin = await entity(as(randomUUID(), ['ADMIN']));
    expect(admin.data._entities[0].email).toBe(auth.user.email);
    // Public fields for anyone.
    const publicOnly = await entity(null, query.replace('email phone', ''));
    expect(publicOnly.data._entities[0]).toEqual({ id: auth.user.id, username: auth.user.username, createdAt: auth.user.createdAt });
  });

  it('should reject an identity header forged by a client that calls the users subgraph directly', async () => {
    const { auth } = await registerAccount(shop);
    const forged = Buffer.from(JSON.stringify({ userId: auth.user.id, roles: ['ADMIN'], sessionId: randomUUID(), exp: 9_999_999_999 })).toString('base64url');
    const res = await fetch(shop.supergraph.services.users.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-shop-identity': forged, 'x-shop-identity-signature': 'forged' },
      body: JSON.stringify({ query: SET_ROLES, variables: { id: auth.user.id, roles: ['ADMIN'] } }),
    });
    const body = (await res.json()) as { data?: unknown; errors?: Array<{ extensions?: { code?: string } }> };
    expect(res.status).toBe(401);
    expect(body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    // Signed as the gateway would, but with another secret: rejected as well.
    const other = await postAsGateway(shop.supergraph.services.users.url, { secret: 'x'.repeat(43), audience: 'users', query: ME, identity: { userId: auth.user.id, roles: ['ADMIN'], sessionId: randomUUID(), exp: 9_999_999_999 } });
    expect(other.status).toBe(401);
    expect(other.errors?.[0]?.extensions?.['code']).toBe('UNAUTHENTICATED');
    // And the account kept its roles.
    expect((await shop.gql(ME, {}, auth.accessToken)).data.me.roles).toEqual(['CUSTOMER']);
  });

  it('should keep phone numbers and address lines encrypted in the users database', async () => {
    const phone = '+14155550123';
    const { auth } = await registerAccount(shop, { phone });
    const address = { line1: '221B Baker Street', line2: 'Second floor flat', city: 'Marylebone', postalCode: 'NW1 6XE', country: 'GB' };
    expect((await shop.gql(ADD_ADDRESS, { input: address }, auth.accessToken)).errors).toBeUndefined();

    const db = new Client({ connectionString: shop.databaseUrl('users') });
    await db.connect();
    try {
      const users = await db.query('SELECT * FROM app_user WHERE id = $1', [auth.user.id]);
      const addresses = await db.query('SELECT * FROM address WHERE user_id = $1', [auth.user.id]);
      const mails = await db.query('SELECT * FROM outgoing_mail');
      const raw = JSON.stringify([users.rows, addresses.rows, mails.rows]);
      expect(addresses.rows).toHaveLength(1);
      for (const secret of [phone, '4155550123', '221B Baker', 'Baker Street', 'Second floor', 'Marylebone', 'NW1 6XE']) expect(raw).not.toContain(secret);
      // The mail outbox keeps recipients encrypted too (and wipes the payload once sent).
      expect(JSON.stringify(mails.rows)).not.toContain(auth.user.email);
      expect(users.rows[0].phone_enc).toMatch(/^v1:dev:[A-Za-z0-9_-]+$/);
      expect(users.rows[0].password_hash).toMatch(/^\$argon2id\$v=19\$m=65536,t=3,p=1\$/);
      // What the owner sees is the decrypted value.
      expect((await shop.gql(ME, {}, auth.accessToken)).data.me).toMatchObject({ phone, addresses: [expect.objectContaining(address)] });
    } finally {
      await db.end();
    }
  });
});
