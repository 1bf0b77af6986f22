/**
 * Human-friendly order numbers such as `ORD-7KQ4-M2XD`: eight Crockford base-32 characters
 * (no I, L, O, U: nothing to misread on the phone), derived from a database sequence value.
 *
 * The sequence value is multiplied by an odd constant modulo 2^40, a bijection: numbers are
 * unique by construction (no retry on collision) and do not reveal how many orders the shop takes.
 */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const MODULUS = 1n << 40n;
const MULTIPLIER = 0x9e3779b97fn | 1n; // odd, so invertible modulo 2^40

export function orderNumber(sequenceValue: bigint | number | string): string {
  let n = (BigInt(sequenceValue) * MULTIPLIER) % MODULUS;
  let out = '';
  for (let i = 0; i < 8; i++) {
    out = ALPHABET[Number(n & 31n)] + out;
    n >>= 5n;
  }
  return `ORD-${out.slice(0, 4)}-${out.slice(4)}`;
}
