import { badUserInput } from '@shop/platform';

/** The largest price the catalog stores: numeric(12, 2). */
export const MAX_INTEGER_DIGITS = 10;
export const PRICE_SCALE = 2;

const DECIMAL = /^([+-])?(\d+)(?:\.(\d+))?$/;

/**
 * Parses a client's Decimal (a string such as "29.99"; a JSON number is accepted and read through
 * its shortest decimal form) into a normalised amount with two decimals ("29.90"). Never goes
 * through a float: the digits are checked and copied as text.
 *
 * Throws BAD_USER_INPUT naming `field` when the value is not a decimal, is negative, has more than
 * two decimals or more than ten integer digits.
 */
export function parseAmount(field: string, value: unknown): string {
  const text = typeof value === 'number' && Number.isFinite(value) ? String(value) : typeof value === 'string' ? value.trim() : null;
  const match = text === null ? null : DECIMAL.exec(text);
  if (!match) throw badUserInput(field, `${field} must be a decimal number such as "29.99".`);
  const [, sign, integer = '0', fraction = ''] = match;
  const intDigits = integer.replace(/^0+(?=\d)/, '');
  const isZero = /^0*$/.test(intDigits + fraction);
  if (sign === '-' && !isZero) throw badUserInput(field, `${field} must not be negative.`);
  if (fraction.length > PRICE_SCALE) throw badUserInput(field, `${field} has at most ${PRICE_SCALE} decimal places.`);
  if (intDigits.length > MAX_INTEGER_DIGITS) throw badUserInput(field, `${field} is too large (at most ${MAX_INTEGER_DIGITS} integer digits).`);
  return `${intDigits}.${fraction.padEnd(PRICE_SCALE, '0')}`;
}

/** Compares two normalised amounts exactly (as text, no float): negative, zero or positive. */
export function compareAmounts(a: string, b: string): number {
  const [ai = '', af = ''] = a.split('.');
  const [bi = '', bf = ''] = b.split('.');
  if (ai.length !== bi.length) return ai.length - bi.length;
  if (ai !== bi) return ai < bi ? -1 : 1;
  return af === bf ? 0 : af < bf ? -1 : 1;
}

const CURRENCY = /^[A-Z]{3}$/;

/** Validates an ISO-4217 code (three capital letters). Default "USD" when absent. */
export function parseCurrency(field: string, value: string | null | undefined): string {
  if (value === undefined || value === null) return 'USD';
  const code = value.trim().toUpperCase();
  if (!CURRENCY.test(code)) throw badUserInput(field, `${field} must be an ISO-4217 code such as "USD".`);
  return code;
}
