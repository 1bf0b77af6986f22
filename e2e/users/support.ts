/** Helpers of the users scenarios: unique accounts, GraphQL documents, the development mailbox. */
import { randomBytes } from 'node:crypto';
import { eventually } from '@shop/platform/testing';
import type { GraphQLResponse, TestShop } from '../support/harness';

export const AUTH_FIELDS = 'accessToken refreshToken expiresAt user { id email username firstName lastName phone roles createdAt }';

export const REGISTER = `mutation Register($input: RegisterInput!) { register(input: $input) { ${AUTH_FIELDS} } }`;
export const LOGIN = `mutation Login($email: String!, $password: String!) { login(email: $email, password: $password) { ${AUTH_FIELDS} } }`;
export const REFRESH = `mutation Refresh($refreshToken: String!) { refreshToken(refreshToken: $refreshToken) { ${AUTH_FIELDS} } }`;
export const LOGOUT = 'mutation { logout }';
export const ME = '{ me { id email username firstName lastName phone roles addresses { id line1 line2 city postalCode country isDefault } } }';
export const REQUEST_RESET = 'mutation Forgot($email: String!) { requestPasswordReset(email: $email) }';
export const RESET = 'mutation Reset($token: String!, $newPassword: String!) { resetPassword(token: $token, newPassword: $newPassword) }';
export const UPDATE_PROFILE = 'mutation Update($input: UpdateProfileInput!) { updateProfile(input: $input) { id firstName lastName phone } }';
export const ADD_ADDRESS = 'mutation Add($input: AddressInput!) { addAddress(input: $input) { id line1 line2 city postalCode country isDefault } }';

export interface AuthPayload {
  accessToken: string;
  refreshToken: string;
  expiresAt: string;
  user: { id: string; email: string; username: string; firstName: string | null; lastName: string | null; phone: string | null; roles: string[]; createdAt: string };
}

/** A valid registration input with a unique e-mail and username. */
export function newAccount(overrides: Record<string, unknown> = {}): { email: string; username: string; password: string } & Record<string, unknown> {
  const id = randomBytes(4).toString('hex');
  return { email: `Ada.${id}@Example.com`, username: `ada_${id}`, password: `correct horse ${id} battery`, ...overrides };
}

/** Registers an account and answers its input and AuthPayload (fails the test on any error). */
export async function registerAccount(shop: TestShop, overrides: Record<string, unknown> = {}): Promise<{ input: ReturnType<typeof newAccount>; auth: AuthPayload }> {
  const input = newAccount(overrides);
  const res = await shop.gql<{ register: AuthPayload }>(REGISTER, { input });
  if (res.errors || !res.data) throw new Error(`register failed: ${JSON.stringify(res.errors)}`);
  return { input, auth: res.data.register };
}

/** A message of the development mailbox. */
export interface Mail {
  id: number;
  to: string;
  subject: string;
  text: string;
  html: string;
  template: string;
  messageId: string;
  sentAt: string;
}

/** The development mailbox of the users service (newest first), optionally for one recipient. */
export async function mailbox(shop: TestShop, to?: string): Promise<Mail[]> {
  const url = new URL(shop.supergraph.services.users.url.replace(/\/graphql$/, '/dev/mailbox'));
  if (to) url.searchParams.set('to', to);
  url.searchParams.set('limit', '1000');
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`GET /dev/mailbox answered ${res.status}`);
  return ((await res.json()) as { messages: Mail[] }).messages;
}

/** Waits for a mail to `to` whose template is `template`. */
export function waitForMail(shop: TestShop, to: string, template: string, timeoutMs = 15_000): Promise<Mail> {
  return eventually(async () => (await mailbox(shop, to)).find((m) => m.template === template), timeoutMs, 100);
}

/** The reset token of a password reset mail. */
export function resetTokenOf(mail: Mail): string {
  const token = /Reset token: (pr_[A-Za-z0-9_-]+)/.exec(mail.text)?.[1];
  if (!token) throw new Error(`no reset token in mail: ${mail.text}`);
  return token;
}

/** The first error's code and field, for compact assertions. */
export function failure(res: GraphQLResponse<unknown>): { code?: string; field?: string } {
  const e = res.errors?.[0]?.extensions ?? {};
  return { code: e['code'], field: e['field'] };
}

export const VERIFY_EMAIL = 'mutation Verify($token: String!) { verifyEmail(token: $token) }';
export const RESEND_VERIFICATION = 'mutation { resendEmailVerification }';
export const PREFERENCES = 'mutation Prefs($input: NotificationPreferencesInput!) { updateNotificationPreferences(input: $input) { orderUpdates backInStock marketing } }';
export const NOTIFY_ME = 'mutation NotifyMe($productId: ID!) { notifyMeWhenInStock(productId: $productId) }';
export const DELETE_ACCOUNT = 'mutation Delete($password: String!) { deleteMyAccount(password: $password) }';

/** The verification token of a welcome or verification mail. */
export function verificationTokenOf(mail: Mail): string {
  const token = /Verification token: (ev_[A-Za-z0-9_-]+)/.exec(mail.text)?.[1];
  if (!token) throw new Error(`no verification token in mail: ${mail.text}`);
  return token;
}

/** A text message of the development SMS outbox. */
export interface Sms {
  id: number;
  to: string;
  text: string;
  template: string;
  sentAt: string;
}

/** The development SMS outbox of the users service (newest first), optionally for one number. */
export async function smsOutbox(shop: TestShop, to?: string): Promise<Sms[]> {
  const url = new URL(shop.supergraph.services.users.url.replace(/\/graphql$/, '/dev/sms-outbox'));
  if (to) url.searchParams.set('to', to);
  url.searchParams.set('limit', '1000');
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`GET /dev/sms-outbox answered ${res.status}`);
  return ((await res.json()) as { messages: Sms[] }).messages;
}

/** Waits for a text message to `to` whose template is `template`. */
export function waitForSms(shop: TestShop, to: string, template: string, timeoutMs = 15_000): Promise<Sms> {
  return eventually(async () => (await smsOutbox(shop, to)).find((m) => m.template === template), timeoutMs, 100);
}

/** A unique E.164 phone number (+1 555 01xx xxxx: reserved for fiction). */
export function newPhone(): string {
  return `+1555${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`;
}
