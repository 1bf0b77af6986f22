/**
 * An account's life through the gateway. Run on both event buses (lifecycle.*.test.ts): sign-out,
 * password reset and refresh-token reuse travel as session events from users to the gateway's
 * deny list. One file per bus keeps each file short and lets jest run them in parallel.
 */
import type { BusKind, TestShop } from '../support/harness';
import { errorCode, startTestShop } from '../support/harness';
import type { AuthPayload } from './support';
import { ADD_ADDRESS, failure, LOGIN, LOGOUT, ME, REFRESH, registerAccount, REQUEST_RESET, RESET, resetTokenOf, UPDATE_PROFILE, waitForMail } from './support';

export function describeAccountLifecycle(bus: BusKind): void {
  describe(`an account through the gateway (${bus} bus)`, () => {
    let shop: TestShop;
    beforeAll(async () => {
      shop = await startTestShop({ bus });
    });
    afterAll(async () => {
      await shop?.stop();
    });

    it('should register, welcome, sign in, edit the profile and addresses, and refuse the token right after logout', async () => {
      const { input, auth } = await registerAccount(shop, { firstName: 'Ada', lastName: 'Lovelace' });
      expect(auth.user).toMatchObject({ email: input.email.toLowerCase(), username: input.username, firstName: 'Ada', roles: ['CUSTOMER'] });
      expect(Date.parse(auth.expiresAt) - Date.now()).toBeGreaterThan(14 * 60_000);

      const welcome = await waitForMail(shop, input.email.toLowerCase(), 'welcome');
      expect(welcome.subject).toBe('Welcome to the Shop');
      expect(welcome.text).toContain(input.username);

      // E-mail is case-insensitive.
      const login = await shop.gql<{ login: AuthPayload }>(LOGIN, { email: input.email.toUpperCase(), password: input.password });
      expect(login.errors).toBeUndefined();
      const token = login.data!.login.accessToken;

      const me = await shop.gql(ME, {}, token);
      expect(me.data.me).toMatchObject({ id: auth.user.id, email: input.email.toLowerCase(), addresses: [] });

      const updated = await shop.gql(UPDATE_PROFILE, { input: { lastName: 'Byron', phone: '+44 20 7946 0958' } }, token);
      expect(updated.errors).toBeUndefined();
      expect(updated.data.updateProfile).toEqual({ id: auth.user.id, firstName: 'Ada', lastName: 'Byron', phone: '+442079460958' });

      const home = await shop.gql(ADD_ADDRESS, { input: { line1: '12 St James Square', city: 'London', postalCode: 'sw1y 4jh', country: 'gb' } }, token);
      expect(home.errors).toBeUndefined();
      expect(home.data.addAddress).toMatchObject({ line1: '12 St James Square', line2: null, postalCode: 'SW1Y 4JH', country: 'GB', isDefault: true });
      const office = await shop.gql(ADD_ADDRESS, { input: { line1: '1 Analytical Way', line2: 'Floor 2', city: 'Oxford', postalCode: 'OX1 2JD', country: 'GB', isDefault: true } }, token);
      expect(office.data.addAddress.isDefault).toBe(true);

      const after = await shop.gql(ME, {}, token);
      expect(after.data.me.addresses.map((a: { line1: string; isDefault: boolean }) => [a.line1, a.isDefault])).toEqual([
        ['1 Analytical Way', true],
        ['12 St James Square', false],
      ]);

      const logout = await shop.gql(LOGOUT, {}, token);
      expect(logout.data).toEqual({ logout: true });
      // The very next request with the same token: refused, at once.
      const reused = await shop.gql(ME, {}, token);
      expect(reused.status).toBe(401);
      expect(errorCode(reused)).toBe('UNAUTHENTICATED');
      // The session's refresh token is dead too.
      expect(errorCode(await shop.gql(REFRESH, { refreshToken: login.data!.login.refreshToken }))).toBe('UNAUTHENTICATED');
      // Other sessions of the account are not affected.
      expect((await shop.gql(ME, {}, auth.accessToken)).data.me.id).toBe(auth.user.id);
    });

    it('should rotate refresh tokens and sign the whole session out when a used one comes back', async () => {
      const { auth } = await registerAccount(shop);
      const first = await shop.gql<{ refreshToken: AuthPayload }>(REFRESH, { refreshToken: auth.refreshToken });
      expect(first.errors).toBeUndefined();
      const second = first.data!.refreshToken;
      expect(second.refreshToken).not.toBe(auth.refreshToken);
      expect(second.user.id).toBe(auth.user.id);
      expect((await shop.gql(ME, {}, second.accessToken)).data.me.id).toBe(auth.user.id);

      const third = (await shop.gql<{ refreshToken: AuthPayload }>(REFRESH, { refreshToken: second.refreshToken })).data!.refreshToken;

      // The first token again: someone holds a copy. The session (its whole family) is revoked.
      const reuse = await shop.gql(REFRESH, { refreshToken: auth.refreshToken });
      expect(failure(reuse).code).toBe('UNAUTHENTICATED');
      expect(reuse.errors?.[0]?.extensions?.['reason']).toBe('REFRESH_TOKEN_REUSED');
      expect(errorCode(await shop.gql(REFRESH, { refreshToken: third.refreshToken }))).toBe('UNAUTHENTICATED');
      // Every access token of the session, at once.
      expect(errorCode(await shop.gql(ME, {}, third.accessToken))).toBe('UNAUTHENTICATED');
      expect(errorCode(await shop.gql(ME, {}, auth.accessToken))).toBe('UNAUTHENTICATED');

      expect(errorCode(await shop.gql(REFRESH, { refreshToken: 'rt_not-a-real-token' }))).toBe('UNAUTHENTICATED');
    });

    it('should reset a forgotten password through the mailbox, sign out every session and refuse the token a second time', async () => {
      const { input, auth } = await registerAccount(shop);
      const email = input.email.toLowerCase();
      const other = await shop.gql<{ login: AuthPayload }>(LOGIN, { email, password: input.password });

      expect((await shop.gql(REQUEST_RESET, { email: input.email.toUpperCase() })).data).toEqual({ requestPasswordReset: true });
      // No enumeration: an unknown address answers the same.
      expect((await shop.gql(REQUEST_RESET, { email: `nobody.${auth.user.id}@example.com` })).data).toEqual({ requestPasswordReset: true });

      const mail = await waitForMail(shop, email, 'password-reset');
      const token = resetTokenOf(mail);
      expect(mail.html).toContain('/reset-password?token=');

      const weak = await shop.gql(RESET, { token, newPassword: 'short' });
      expect(failure(weak)).toEqual({ code: 'BAD_USER_INPUT', field: 'newPassword' });

      const newPassword = `${input.password} renewed`;
      expect((await shop.gql(RESET, { token, newPassword })).data).toEqual({ resetPassword: true });

      // Every session is gone at once: access tokens and refresh tokens.
      expect(errorCode(await shop.gql(ME, {}, auth.accessToken))).toBe('UNAUTHENTICATED');
      expect(errorCode(await shop.gql(ME, {}, other.data!.login.accessToken))).toBe('UNAUTHENTICATED');
      expect(errorCode(await shop.gql(REFRESH, { refreshToken: auth.refreshToken }))).toBe('UNAUTHENTICATED');

      const reused = await shop.gql(RESET, { token, newPassword: `${newPassword} again` });
      expect(failure(reused)).toEqual({ code: 'BAD_USER_INPUT', field: 'token' });

      expect(errorCode(await shop.gql(LOGIN, { email, password: input.password }))).toBe('UNAUTHENTICATED');
      const fresh = await shop.gql<{ login: AuthPayload }>(LOGIN, { email, password: newPassword });
      expect(fresh.errors).toBeUndefined();
      expect((await shop.gql(ME, {}, fresh.data!.login.accessToken)).data.me.id).toBe(auth.user.id);
      await waitForMail(shop, email, 'password-changed');
    });
  });
}
