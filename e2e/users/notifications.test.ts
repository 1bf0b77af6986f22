/**
 * Accounts and notifications through the gateway: e-mail verification (single use, expiring,
 * rate-limited resend), preferences choosing the channels of order notifications (e-mail, SMS,
 * both), a rejected order notified with its reason, text messages in the development SMS outbox.
 */
import { Pool } from 'pg';
import { eventually } from '@shop/platform/testing';
import { demoProducts, orderInput, PLACE_ORDER } from '../orders/orders-flow';
import type { TestShop } from '../support/harness';
import { startTestShop } from '../support/harness';
import {
  failure,
  mailbox,
  newPhone,
  PREFERENCES,
  registerAccount,
  RESEND_VERIFICATION,
  smsOutbox,
  verificationTokenOf,
  VERIFY_EMAIL,
  waitForMail,
  waitForSms,
} from './support';

const ME = '{ me { id emailVerified notificationPreferences { orderUpdates backInStock marketing } } }';

describe('accounts and notifications', () => {
  let shop: TestShop;
  let db: Pool;
  beforeAll(async () => {
    shop = await startTestShop({ bus: 'in-process', seed: true, settings: { users: { EMAIL_VERIFICATIONS_PER_HOUR: 2 } } });
    db = new Pool({ connectionString: shop.databaseUrl('users'), max: 2 });
  });
  afterAll(async () => {
    await db?.end();
    await shop?.stop();
  });

  it('should verify an e-mail address with the token of the registration mail once and only once', async () => {
    const { input, auth } = await registerAccount(shop);
    const token = auth.accessToken;
    const welcome = await waitForMail(shop, input.email.toLowerCase(), 'welcome');
    const verification = verificationTokenOf(welcome);
    expect(welcome.html).toContain('/verify-email?token=');
    expect((await shop.gql(ME, {}, token)).data.me).toMatchObject({ emailVerified: false, notificationPreferences: { orderUpdates: ['EMAIL'], backInStock: ['EMAIL'], marketing: [] } });

    // The database keeps only a hash of the token.
    const stored = await db.query('SELECT token_hash FROM email_verification WHERE user_id = $1', [auth.user.id]);
    expect(stored.rows).toHaveLength(1);
    expect(JSON.stringify(stored.rows)).not.toContain(verification.slice(3));

    expect((await shop.gql(VERIFY_EMAIL, { token: verification })).data).toEqual({ verifyEmail: true });
    expect((await shop.gql(ME, {}, token)).data.me.emailVerified).toBe(true);
    const again = await shop.gql(VERIFY_EMAIL, { token: verification });
    expect(failure(again)).toEqual({ code: 'BAD_USER_INPUT', field: 'token' });
    expect(failure(await shop.gql(VERIFY_EMAIL, { token: 'ev_not-a-token' }))).toEqual({ code: 'BAD_USER_INPUT', field: 'token' });
    // Already verified: nothing more to mail.
    expect((await shop.gql(RESEND_VERIFICATION, {}, token)).data).toEqual({ resendEmailVerification: true });
    expect((await mailbox(shop, input.email.toLowerCase())).filter((m) => m.template === 'email-verification')).toEqual([]);
  });

  it('should refuse an expired token, and resend a new one a limited number of times', async () => {
    const { input, auth } = await registerAccount(shop);
    const email = input.email.toLowerCase();
    const first = verificationTokenOf(await waitForMail(shop, email, 'welcome'));
    // Time passes: the token's expiry is now behind us.
    await db.query("UPDATE email_verification SET expires_at = now() - interval '1 second' WHERE user_id = $1", [auth.user.id]);
    expect(failure(await shop.gql(VERIFY_EMAIL, { token: first }))).toEqual({ code: 'BAD_USER_INPUT', field: 'token' });

    expect(failure(await shop.gql(RESEND_VERIFICATION))).toEqual({ code: 'UNAUTHENTICATED', field: undefined });
    expect((await shop.gql(RESEND_VERIFICATION, {}, auth.accessToken)).data).toEqual({ resendEmailVerification: true });
    expect((await shop.gql(RESEND_VERIFICATION, {}, auth.accessToken)).data).toEqual({ resendEmailVerification: true });
    const limited = await shop.gql(RESEND_VERIFICATION, {}, auth.accessToken);
    expect(failure(limited).code).toBe('RATE_LIMITED');
    expect(limited.errors![0]!.extensions!['retryAfterSeconds']).toBeGreaterThan(0);

    const mails = await eventually(async () => {
      const found = (await mailbox(shop, email)).filter((m) => m.template === 'email-verification');
      return found.length === 2 ? found : null;
    });
    const [newest, older] = mails.map(verificationTokenOf); // newest first
    // Only the latest mail counts.
    expect(failure(await shop.gql(VERIFY_EMAIL, { token: older }))).toEqual({ code: 'BAD_USER_INPUT', field: 'token' });
    expect((await shop.gql(VERIFY_EMAIL, { token: newest })).data).toEqual({ verifyEmail: true });
    expect((await shop.gql(ME, {}, auth.accessToken)).data.me.emailVerified).toBe(true);
  });

  it('should send order notifications on the channels the preferences name: e-mail only, SMS only, both', async () => {
    const [product] = await demoProducts(shop, 1);
    const accounts = await Promise.all(
      ([['EMAIL'], ['SMS'], ['EMAIL', 'SMS']] as Array<Array<'EMAIL' | 'SMS'>>).map(async (orderUpdates) => {
        const phone = newPhone();
        const { input, auth } = await registerAccount(shop, { phone, firstName: 'Lin' });
        const prefs = await shop.gql(PREFERENCES, { input: { orderUpdates } }, auth.accessToken);
        expect(prefs.data.updateNotificationPreferences).toEqual({ orderUpdates, backInStock: ['EMAIL'], marketing: [] });
        const placed = await shop.gql(PLACE_ORDER, { input: orderInput([{ productId: product!.id, quantity: 1 }]) }, auth.accessToken);
        expect(placed.errors).toBeUndefined();
        return { orderUpdates, phone, email: input.email.toLowerCase(), userId: auth.user.id, number: placed.data.placeOrder.number as string };
      }),
    );
    for (const a of accounts) {
      if (a.orderUpdates.includes('EMAIL')) expect((await waitForMail(shop, a.email, 'order-confirmed', 45_000)).subject).toBe(`Order ${a.number} confirmed`);
      if (a.orderUpdates.includes('SMS')) expect((await waitForSms(shop, a.phone, 'order-confirmed', 45_000)).text).toContain(`order ${a.number} is confirmed`);
      // Both channels of one notification are queued in one statement: the outbox shows exactly the chosen ones.
      const queued = await db.query("SELECT DISTINCT channel FROM outgoing_mail WHERE template = 'order-confirmed' AND dedupe_key LIKE '%' || $1 ORDER BY channel", [a.userId]);
      expect(queued.rows.map((r) => r.channel)).toEqual([...a.orderUpdates].sort());
    }
    const emailOnly = accounts[0]!;
    expect(await smsOutbox(shop, emailOnly.phone)).toEqual([]);
    const smsOnly = accounts[1]!;
    expect((await mailbox(shop, smsOnly.email)).map((m) => m.template)).toEqual(['welcome']);
    // Placed came before confirmed, on the same channel.
    expect((await smsOutbox(shop, smsOnly.phone)).map((m) => m.template).sort()).toEqual(['order-confirmed', 'order-placed']);
  }, 120_000);

  it('should tell the customer why an order was rejected', async () => {
    const [product] = await demoProducts(shop, 1);
    const phone = newPhone();
    const { input, auth } = await registerAccount(shop, { phone });
    await shop.gql(PREFERENCES, { input: { orderUpdates: ['EMAIL', 'SMS'] } }, auth.accessToken);
    const placed = await shop.gql(PLACE_ORDER, { input: orderInput([{ productId: product!.id, quantity: 1 }], { token: 'tok_chargeDeclined' }) }, auth.accessToken);
    expect(placed.errors).toBeUndefined();
    const number = placed.data.placeOrder.number as string;
    const mail = await waitForMail(shop, input.email.toLowerCase(), 'order-rejected', 45_000);
    expect(mail.subject).toBe(`Order ${number} could not be completed`);
    expect(mail.text).toContain('the payment was declined');
    expect((await waitForSms(shop, phone, 'order-rejected', 45_000)).text).toContain('the payment was declined');
  }, 120_000);

  it('should refuse bad preference input and anonymous callers with the contract codes', async () => {
    expect(failure(await shop.gql(PREFERENCES, { input: { marketing: ['EMAIL'] } }))).toMatchObject({ code: 'UNAUTHENTICATED' });
    const { auth } = await registerAccount(shop);
    const bad = await shop.gql(PREFERENCES, { input: { marketing: ['PIGEON'] } }, auth.accessToken);
    expect(bad.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
    expect((await shop.gql(PREFERENCES, { input: { marketing: ['EMAIL', 'EMAIL'] } }, auth.accessToken)).data.updateNotificationPreferences.marketing).toEqual(['EMAIL']);
  });
});
