/**
 * Input rules of the users domain. Each function answers the normalised value or throws
 * BAD_USER_INPUT naming the offending field (`extensions.field`), so that a client can put the
 * message next to the right input.
 */
import { badUserInput } from '@shop/platform';
import { COMMON_PASSWORDS } from './common-passwords';

/** Minimum password length. */
export const PASSWORD_MIN_LENGTH = 10;
/** Maximum password length (Argon2 accepts more; this bounds the hashing work a request can ask for). */
export const PASSWORD_MAX_LENGTH = 128;
/** Addresses one account may keep. */
export const MAX_ADDRESSES_PER_USER = 20;

const EMAIL = /^[a-z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/;
const USERNAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{2,29}$/;
const CONTROL = /\p{Cc}/u;
const POSTAL_CODE = /^[A-Z0-9](?:[A-Z0-9 -]{0,14}[A-Z0-9])?$/;
const regions = new Intl.DisplayNames(['en'], { type: 'region', fallback: 'code' });

/** Trims; `null`/`undefined` and empty become `required ? error : null`. */
function text(value: string | null | undefined, field: string, label: string, options: { required: boolean; max: number }): string | null {
  const trimmed = (value ?? '').trim();
  if (!trimmed) {
    if (options.required) throw badUserInput(field, `${label} is required.`);
    return null;
  }
  if (trimmed.length > options.max) throw badUserInput(field, `${label} must be at most ${options.max} characters.`);
  if (CONTROL.test(trimmed)) throw badUserInput(field, `${label} must not contain control characters.`);
  return trimmed;
}

/** Lower-case, trimmed e-mail address (compared case-insensitively everywhere). */
export function normaliseEmail(value: string | null | undefined, field: string): string {
  const email = text(value, field, 'E-mail', { required: true, max: 254 })!.toLowerCase();
  if (!EMAIL.test(email)) throw badUserInput(field, 'E-mail must be a valid address, e.g. ada@example.com.');
  return email;
}

/** 3 to 30 letters, digits, `_`, `.` or `-`, starting with a letter or digit; case is kept, uniqueness ignores it. */
export function normaliseUsername(value: string | null | undefined, field: string): string {
  const username = text(value, field, 'Username', { required: true, max: 30 })!;
  if (!USERNAME.test(username)) {
    throw badUserInput(field, 'Username must be 3 to 30 characters: letters, digits, "_", "." or "-", starting with a letter or digit.');
  }
  return username;
}

/**
 * Password strength: at least 10 characters (at most 128), at least 4 different characters, not
 * the e-mail address, its local part or the username, and not a commonly used password.
 * The password itself is never trimmed, echoed or logged.
 */
export function validatePassword(password: string | null | undefined, field: string, owner: { email: string; username: string }): string {
  if (!password) throw badUserInput(field, 'Password is required.');
  if (password.length < PASSWORD_MIN_LENGTH) throw badUserInput(field, `Password must be at least ${PASSWORD_MIN_LENGTH} characters.`);
  if (password.length > PASSWORD_MAX_LENGTH) throw badUserInput(field, `Password must be at most ${PASSWORD_MAX_LENGTH} characters.`);
  if (new Set(password).size < 4) throw badUserInput(field, 'Password is too repetitive: use at least 4 different characters.');
  const lower = password.toLowerCase();
  const local = owner.email.split('@')[0] ?? '';
  if (lower === owner.email.toLowerCase() || lower === local.toLowerCase() || lower === owner.username.toLowerCase()) {
    throw badUserInput(field, 'Password must not be your e-mail address or username.');
  }
  if (COMMON_PASSWORDS.has(lower)) throw badUserInput(field, 'Password is too common: choose one that is harder to guess.');
  return password;
}

/** International format: `+`, then 8 to 15 digits (E.164); spaces, dots, dashes and parentheses are dropped. */
export function normalisePhone(value: string | null | undefined, field: string): string | null {
  const raw = text(value, field, 'Phone', { required: false, max: 30 });
  if (raw === null) return null;
  const compact = raw.replace(/[\s().-]/g, '');
  if (!/^\+[1-9]\d{7,14}$/.test(compact)) throw badUserInput(field, 'Phone must be in international format, e.g. +14155550100.');
  return compact;
}

/** A first or last name: optional, at most 100 characters; empty clears it. */
export function normaliseName(value: string | null | undefined, field: string, label: string): string | null {
  return text(value, field, label, { required: false, max: 100 });
}

/** A validated, normalised address. */
export interface AddressDraft {
  readonly line1: string;
  readonly line2: string | null;
  readonly city: string;
  readonly postalCode: string;
  /** ISO-3166 alpha-2, upper case. */
  readonly country: string;
  readonly isDefault: boolean;
}

/** Validates an address input; `prefix` is the argument path (`input`). */
export function validateAddress(
  input: { line1?: string | null; line2?: string | null; city?: string | null; postalCode?: string | null; country?: string | null; isDefault?: boolean | null },
  prefix: string,
): AddressDraft {
  const line1 = text(input.line1, `${prefix}.line1`, 'Address line 1', { required: true, max: 200 })!;
  const line2 = text(input.line2, `${prefix}.line2`, 'Address line 2', { required: false, max: 200 });
  const city = text(input.city, `${prefix}.city`, 'City', { required: true, max: 100 })!;
  const postalCode = text(input.postalCode, `${prefix}.postalCode`, 'Postal code', { required: true, max: 16 })!.toUpperCase();
  if (!POSTAL_CODE.test(postalCode)) throw badUserInput(`${prefix}.postalCode`, 'Postal code may contain only letters, digits, spaces and dashes.');
  const country = text(input.country, `${prefix}.country`, 'Country', { required: true, max: 2 })!.toUpperCase();
  if (!isCountryCode(country)) throw badUserInput(`${prefix}.country`, 'Country must be an ISO-3166 alpha-2 code, e.g. US or DE.');
  return { line1, line2, city, postalCode, country, isDefault: input.isDefault ?? false };
}

/** Codes ICU names that are not current countries: unknown region, groupings, pseudo-locales, reserved (UK) and withdrawn ones (SU, YU…). */
const NOT_COUNTRIES: ReadonlySet<string> = new Set(['ZZ', 'EU', 'EZ', 'UN', 'QO', 'XA', 'XB', 'UK', 'AN', 'BU', 'CS', 'DD', 'FX', 'NT', 'SU', 'TP', 'YU', 'ZR']);

/** True for an assigned ISO-3166 alpha-2 country code (per the ICU data Node ships with; XK is accepted). */
export function isCountryCode(code: string): boolean {
  return /^[A-Z]{2}$/.test(code) && !NOT_COUNTRIES.has(code) && regions.of(code) !== code;
}
