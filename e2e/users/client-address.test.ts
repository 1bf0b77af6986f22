/**
 * Per-address limits count the address the gateway saw on the socket: headers a client sends
 * (X-Forwarded-For, or the gateway's own client-address header) change nothing, through the
 * gateway or straight to the subgraph.
 */
import { randomBytes } from 'node:crypto';
import type { TestShop } from '../support/harness';
import { startTestShop } from '../support/harness';
import { newAccount, REGISTER } from './support';

describe('the client address behind per-address limits', () => {
  let shop: TestShop;
  beforeAll(async () => {
    shop = await startTestShop({ bus: 'in-process', settings: { users: { REGISTRATIONS_PER_ADDRESS_PER_HOUR: 3 } } });
  });
  afterAll(async () => {
    await shop?.stop();
  });

  const register = async (url: string, headers: Record<string, string>) => {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query: REGISTER, variables: { input: newAccount() } }) });
    return (await res.json()) as { data?: unknown; errors?: Array<{ extensions?: Record<string, unknown> }> };
  };
  const spoofed = () => {
    const ip = `10.${randomBytes(1)[0]}.${randomBytes(1)[0]}.${randomBytes(1)[0]}`;
    return { 'x-forwarded-for': ip, 'x-real-ip': ip, 'x-shop-client-address': ip, 'x-shop-client-address-signature': 'forged' };
  };

  it('should count registrations per real address whatever address headers the client sends', async () => {
    for (let i = 0; i < 3; i++) expect((await register(shop.url, spoofed())).errors).toBeUndefined();
    const limited = await register(shop.url, spoofed());
    expect(limited.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED' });
    expect(limited.errors?.[0]?.extensions?.['retryAfterSeconds']).toBeGreaterThan(3_000);
    // Straight to the subgraph with forged address headers: not signed by the gateway, so not answered at all.
    const direct = await register(shop.supergraph.services.users.url, spoofed());
    expect(direct.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED' });
  });
});
