/**
 * A captured gateway -> subgraph request is of no use to whoever captured it: its signature is
 * bound to the subgraph it was minted for and to the request (method, path, body), lives seconds,
 * and the subgraph itself refuses the identity of a session revoked since (it follows users'
 * session events). The capture is real: a recording proxy between a gateway and the subgraphs.
 */
import { randomUUID } from 'node:crypto';
import { eventually } from '@shop/platform/testing';
import type { TestShop } from '../support/harness';
import { errorCode, startTestShop } from '../support/harness';
import { LOGOUT, registerAccount } from '../users/support';
import { replay, wiretappedGateway } from './support';

const MY_ADDRESSES = '{ me { id email phone addresses { line1 } } }';

describe('identity headers captured between the gateway and a subgraph', () => {
  let shop: TestShop;
  let tapped: Awaited<ReturnType<typeof wiretappedGateway>>;
  beforeAll(async () => {
    shop = await startTestShop({ bus: 'in-process' });
    // Long enough that a refusal below can only come from the binding or the revocation, not from expiry.
    tapped = await wiretappedGateway(shop, 45);
  });
  afterAll(async () => {
    await tapped?.stop();
    await shop?.stop();
  });

  it('should refuse a captured request replayed to another subgraph or with another body, and after logout', async () => {
    const { auth } = await registerAccount(shop, { phone: '+33142685300' });
    const seen = await tapped.gql(MY_ADDRESSES, {}, auth.accessToken);
    expect(seen.data.me).toMatchObject({ id: auth.user.id, phone: '+33142685300' });
    const captured = tapped.sentTo('users').find((r) => r.body.includes('phone') && r.headers['x-shop-identity']);
    expect(captured).toBeDefined();
    const capturedAt = Date.now();

    // As captured, it still works (the wiretap is faithful) ...
    expect((await replay(captured!)).data.me.phone).toBe('+33142685300');
    // ... but not on another subgraph (orders, catalog) ...
    for (const other of ['orders', 'catalog'] as const) {
      const elsewhere = await replay(captured!, shop.supergraph.services[other].url);
      expect(elsewhere.status).toBe(401);
      expect(errorCode(elsewhere)).toBe('UNAUTHENTICATED');
    }
    // ... nor with another operation or other variables under the same headers.
    const otherUser = await replay(captured!, undefined, JSON.stringify({ query: 'query($id: ID!) { user(id: $id) { email phone } }', variables: { id: randomUUID() } }));
    expect(otherUser.status).toBe(401);

    // Logout: the users subgraph learns of it from the bus, and refuses the captured identity itself.
    expect((await tapped.gql(LOGOUT, {}, auth.accessToken)).data).toEqual({ logout: true });
    const refused = await eventually(async () => {
      const r = await replay(captured!);
      return r.status === 401 ? r : null;
    }, 15_000);
    expect(refused.errors?.[0]?.message).toMatch(/signed out/);
    // Still within the signature's lifetime: the revocation refused it, not the clock.
    expect(Date.now() - capturedAt).toBeLessThan(40_000);
  });

  it('should refuse on orders a captured entity request after logout, as the gateway refuses the token', async () => {
    const { auth } = await registerAccount(shop);
    const MY_ORDERS = '{ me { id orders(first: 5) { totalCount } } }';
    expect((await tapped.gql(MY_ORDERS, {}, auth.accessToken)).data).toEqual({ me: { id: auth.user.id, orders: { totalCount: 0 } } });
    const captured = tapped.sentTo('orders').find((r) => r.body.includes('_entities') && r.headers['x-shop-identity']);
    expect(captured).toBeDefined();
    expect((await replay(captured!)).data._entities).toEqual([{ orders: { totalCount: 0 } }]);
    expect((await tapped.gql(LOGOUT, {}, auth.accessToken)).data).toEqual({ logout: true });
    expect(errorCode(await tapped.gql(MY_ORDERS, {}, auth.accessToken))).toBe('UNAUTHENTICATED');
    await eventually(async () => (await replay(captured!)).status === 401, 15_000);
  });
});
