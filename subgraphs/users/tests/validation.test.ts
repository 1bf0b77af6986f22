import type { GraphQLError } from 'graphql';
import { isCountryCode, normaliseEmail, normalisePhone, normaliseUsername, validateAddress, validatePassword } from '../src/domain/validation';
import { normaliseRoles, rolesReduced } from '../src/domain/user';

function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return (error as GraphQLError).extensions['field'] as string;
  }
  return undefined;
}

describe('users input rules', () => {
  it('should normalise e-mail addresses to lower case and refuse malformed ones', () => {
    expect(normaliseEmail('  Ada.Lovelace+shop@Example.COM ', 'email')).toBe('ada.lovelace+shop@example.com');
    for (const bad of ['', 'ada', 'ada@', '@example.com', 'ada@example', 'a da@example.com', 'ada@-example.com', `${'a'.repeat(250)}@example.com`]) {
      expect(fieldOf(() => normaliseEmail(bad, 'input.email'))).toBe('input.email');
    }
  });

  it('should accept usernames of 3 to 30 letters, digits, "_", "." or "-" starting with a letter or digit', () => {
    expect(normaliseUsername(' Ada_L.1-x ', 'u')).toBe('Ada_L.1-x');
    for (const bad of ['ab', 'a'.repeat(31), '.ada', 'ada lovelace', 'adä', 'ada@home']) expect(fieldOf(() => normaliseUsername(bad, 'u'))).toBe('u');
  });

  it('should require strong passwords', () => {
    const owner = { email: 'ada.lovelace@example.com', username: 'adalovelace' };
    expect(validatePassword('correct horse battery', 'p', owner)).toBe('correct horse battery');
    for (const bad of ['', 'short', 'x'.repeat(129), 'abababababab', 'Password123', 'QWERTYUIOP', 'ADALOVELACE', 'ada.lovelace', 'Ada.Lovelace@Example.com']) {
      expect(fieldOf(() => validatePassword(bad, 'p', owner))).toBe('p');
    }
  });

  it('should normalise phone numbers to E.164', () => {
    expect(normalisePhone('+1 (415) 555-0100', 'p')).toBe('+14155550100');
    expect(normalisePhone('+44.20.7946.0958', 'p')).toBe('+442079460958');
    expect(normalisePhone('  ', 'p')).toBeNull();
    expect(normalisePhone(null, 'p')).toBeNull();
    for (const bad of ['4155550100', '+0 415 555 0100', '+1234567', '+1234567890123456', '+1 415 CALL NOW']) expect(fieldOf(() => normalisePhone(bad, 'input.phone'))).toBe('input.phone');
  });

  it('should validate addresses field by field', () => {
    expect(validateAddress({ line1: ' 1 Main St ', line2: '', city: 'Springfield', postalCode: 'ab1 2cd', country: 'gb' }, 'input')).toEqual({
      line1: '1 Main St',
      line2: null,
      city: 'Springfield',
      postalCode: 'AB1 2CD',
      country: 'GB',
      isDefault: false,
    });
    const ok = { line1: '1 Main St', city: 'Springfield', postalCode: '12345', country: 'US' };
    expect(fieldOf(() => validateAddress({ ...ok, line1: '' }, 'input'))).toBe('input.line1');
    expect(fieldOf(() => validateAddress({ ...ok, line2: 'x'.repeat(201) }, 'input'))).toBe('input.line2');
    expect(fieldOf(() => validateAddress({ ...ok, city: '\u0000' }, 'input'))).toBe('input.city');
    expect(fieldOf(() => validateAddress({ ...ok, postalCode: '-123' }, 'input'))).toBe('input.postalCode');
    expect(fieldOf(() => validateAddress({ ...ok, country: 'ZZ' }, 'input'))).toBe('input.country');
  });

  it('should know assigned country codes only', () => {
    for (const code of ['US', 'DE', 'GB', 'JP', 'XK']) expect(isCountryCode(code)).toBe(true);
    for (const code of ['XX', 'ZZ', 'EU', 'UK', 'SU', 'us', 'USA', '']) expect(isCountryCode(code)).toBe(false);
  });

  it('should always keep CUSTOMER and tell when a role is taken away', () => {
    expect(normaliseRoles(['ADMIN', 'ADMIN'])).toEqual(['CUSTOMER', 'ADMIN']);
    expect(normaliseRoles(['CUSTOMER'])).toEqual(['CUSTOMER']);
    expect(rolesReduced(['CUSTOMER', 'ADMIN'], ['CUSTOMER'])).toBe(true);
    expect(rolesReduced(['CUSTOMER'], ['CUSTOMER', 'ADMIN'])).toBe(false);
  });
});
