/**
 * Registration and profile input through the gateway: validation that names the field, and
 * conflicts that say which field is taken. Nothing here depends on the event bus, so it runs on
 * the in-process one only (lifecycle.*.test.ts covers both buses).
 */
import { randomUUID } from 'node:crypto';
import type { TestShop } from '../support/harness';
import { errorCode, startTestShop } from '../support/harness';
import { ADD_ADDRESS, failure, LOGIN, ME, newAccount, REGISTER, registerAccount, UPDATE_PROFILE } from './support';

describe('account input through the gateway', () => {
  let shop: TestShop;
  beforeAll(async () => {
    shop = await startTestShop({ bus: 'in-process' });
  });
  afterAll(async () => {
    await shop?.stop();
  });

  it('should answer CONFLICT naming the field when the e-mail (in any case) or the username is taken', async () => {
    const { input } = await registerAccount(shop);
    const sameEmail = await shop.gql(REGISTER, { input: newAccount({ email: input.email.toUpperCase() }) });
    expect(failure(sameEmail)).toEqual({ code: 'CONFLICT', field: 'input.email' });
    expect(sameEmail.errors?.[0]?.message).toMatch(/e-mail/i);
    const sameUsername = await shop.gql(REGISTER, { input: newAccount({ username: input.username.toUpperCase() }) });
    expect(failure(sameUsername)).toEqual({ code: 'CONFLICT', field: 'input.username' });
    expect(sameUsername.errors?.[0]?.message).toMatch(/username/i);
  });

  it.each([
    ['input.email', { email: '' }],
    ['input.email', { email: 'not-an-address' }],
    ['input.email', { email: 'ada@localhost' }],
    ['input.username', { username: '' }],
    ['input.username', { username: 'ab' }],
    ['input.username', { username: 'has spaces' }],
    ['input.username', { username: '_leading' }],
    ['input.password', { password: '' }],
    ['input.password', { password: 'short1!' }],
    ['input.password', { password: 'password123' }],
    ['input.password', { password: 'aaaaaaaaaaaaaa' }],
    ['input.phone', { phone: '12345' }],
    ['input.phone', { phone: '+1 (415) call-me' }],
    ['input.firstName', { firstName: 'x'.repeat(101) }],
    ['input.lastName', { lastName: 'tab\there' }],
  ])('should answer BAD_USER_INPUT naming %s for %j', async (field, override) => {
    const res = await shop.gql(REGISTER, { input: newAccount(override) });
    expect(failure(res)).toEqual({ code: 'BAD_USER_INPUT', field });
    expect(res.data).toBeNull();
  });

  it('should refuse a password equal to the username or the e-mail address', async () => {
    const account = newAccount();
    for (const password of [account.username, account.email, account.email.toLowerCase()]) {
      const res = await shop.gql(REGISTER, { input: { ...account, password } });
      expect(failure(res)).toEqual({ code: 'BAD_USER_INPUT', field: 'input.password' });
      expect(res.errors?.[0]?.message).toMatch(/e-mail address or username/);
    }
  });

  it('should answer BAD_USER_INPUT naming a required field left out of the variables', async () => {
    const { username: _, ...withoutUsername } = newAccount();
    const res = await shop.gql(REGISTER, { input: withoutUsername });
    expect(errorCode(res)).toBe('BAD_USER_INPUT');
    expect(res.errors?.[0]?.message).toContain('username');
  });

  it('should validate profile and address input, naming the field', async () => {
    const { auth } = await registerAccount(shop);
    const token = auth.accessToken;
    expect(failure(await shop.gql(UPDATE_PROFILE, { input: { phone: 'call me' } }, token))).toEqual({ code: 'BAD_USER_INPUT', field: 'input.phone' });
    const address = { line1: '1 Main St', city: 'Springfield', postalCode: '12345', country: 'US' };
    for (const [field, override] of [
      ['input.line1', { line1: '  ' }],
      ['input.city', { city: '' }],
      ['input.postalCode', { postalCode: '#12' }],
      ['input.country', { country: 'XX' }],
      ['input.country', { country: 'USA' }],
    ] as const) {
      expect(failure(await shop.gql(ADD_ADDRESS, { input: { ...address, ...override } }, token))).toEqual({ code: 'BAD_USER_INPUT', field });
    }
    // Clearing a field: null or an empty string.
    const cleared = await shop.gql(UPDATE_PROFILE, { input: { firstName: '', phone: null } }, token);
    expect(cleared.data.updateProfile).toMatchObject({ firstName: null, phone: null });
    // Signed out: UNAUTHENTICATED, and `me` is null.
    expect(errorCode(await shop.gql(UPDATE_PROFILE, { input: { firstName: 'X' } }))).toBe('UNAUTHENTICATED');
    expect(errorCode(await shop.gql(ADD_ADDRESS, { input: address }))).toBe('UNAUTHENTICATED');
    expect((await shop.gql(ME)).data).toEqual({ me: null });
  });

  it('should answer the same UNAUTHENTICATED for an unknown e-mail and a wrong password', async () => {
    const { input } = await registerAccount(shop);
    const unknown = await shop.gql(LOGIN, { email: `nobody.${randomUUID()}@example.com`, password: input.password });
    const wrong = await shop.gql(LOGIN, { email: input.email, password: `${input.password}!` });
    expect(failure(unknown)).toEqual({ code: 'UNAUTHENTICATED', field: undefined });
    expect(wrong.errors?.[0]?.message).toBe(unknown.errors?.[0]?.message);
    expect(failure(await shop.gql(LOGIN, { email: 'nope', password: 'x' }))).toEqual({ code: 'BAD_USER_INPUT', field: 'email' });
  });
});
