import { GraphQLError } from 'graphql';
import { decodeCursor, encodeCursor, queryFingerprint } from '../src/domain/cursor';
import { compareAmounts, parseAmount, parseCurrency } from '../src/domain/money';
import { validateFilter, validateNewProduct, validateProductChanges } from '../src/domain/product-rules';
import { averageRating, validateComment, validateRating } from '../src/domain/rating';
import { buildExactTsQuery, buildTsQuery, correctableWords, pickAlternatives, searchWords } from '../src/domain/search-query';
import { firstFreeSlug, slugify } from '../src/domain/slug';

/** The error's `extensions.field`, or fails when `fn` does not throw BAD_USER_INPUT. */
function badField(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(GraphQLError);
    expect((error as GraphQLError).extensions['code']).toBe('BAD_USER_INPUT');
    return String((error as GraphQLError).extensions['field']);
  }
  throw new Error('expected BAD_USER_INPUT');
}

describe('money', () => {
  it('should normalise decimal strings to two decimals without going through a float', () => {
    expect(parseAmount('p', '29.9')).toBe('29.90');
    expect(parseAmount('p', '0')).toBe('0.00');
    expect(parseAmount('p', '007.5')).toBe('7.50');
    expect(parseAmount('p', '9999999999.99')).toBe('9999999999.99');
    expect(parseAmount('p', 19.99)).toBe('19.99');
    expect(parseAmount('p', '-0.00')).toBe('0.00');
  });

  it('should refuse negative, over-precise, too large and non-decimal amounts, naming the field', () => {
    expect(badField(() => parseAmount('input.price', '-1.00'))).toBe('input.price');
    expect(badField(() => parseAmount('input.price', '1.999'))).toBe('input.price');
    expect(badField(() => parseAmount('input.price', '12345678901'))).toBe('input.price');
    expect(badField(() => parseAmount('input.price', '1e3'))).toBe('input.price');
    expect(badField(() => parseAmount('input.price', 'abc'))).toBe('input.price');
    expect(badField(() => parseAmount('input.price', 0.1 + 0.2))).toBe('input.price');
  });

  it('should compare amounts exactly', () => {
    expect(compareAmounts('10.00', '9.99')).toBeGreaterThan(0);
    expect(compareAmounts('9.99', '9.99')).toBe(0);
    expect(compareAmounts('9.98', '9.99')).toBeLessThan(0);
  });

  it('should accept ISO-4217 codes and default to USD', () => {
    expect(parseCurrency('c', undefined)).toBe('USD');
    expect(parseCurrency('c', 'eur')).toBe('EUR');
    expect(badField(() => parseCurrency('input.currencyCode', 'EURO'))).toBe('input.currencyCode');
  });
});

describe('search words and queries', () => {
  it('should split a search into lower-case words, dropping punctuation and duplicates', () => {
    expect(searchWords('  Wireless  HEADphones!! wireless')).toEqual(['wireless', 'headphones']);
    expect(searchWords("27\" 4K monitor's")).toEqual(['27', '4k', 'monitor', 's']);
    expect(searchWords('!!!')).toEqual([]);
  });

  it('should build a prefix tsquery with the corrections of misspelled words, never tsquery syntax from the input', () => {
    expect(buildTsQuery(['wireless', 'hedphones'], new Map([['hedphones', ['headphones']]]))).toBe('wireless:* & (hedphones:* | headphones)');
    expect(buildTsQuery(searchWords("a & b | !c:* <-> 'd'"))).toBe('a:* & b:* & c:* & d:*');
    expect(buildTsQuery([])).toBeNull();
    expect(buildExactTsQuery(['wireless', 'hedphones'])).toBe('wireless | hedphones');
  });

  it('should spell-correct only words of 3+ characters that are not numbers', () => {
    expect(correctableWords(['tv', 'hedphones', '2024', '4k'])).toEqual(['hedphones']);
  });

  it('should keep only the alternatives almost as close as the best one', () => {
    const picked = pickAlternatives([
      { word: 'hedphones', term: 'phones', similarity: 0.42 },
      { word: 'hedphones', term: 'headphones', similarity: 0.61 },
      { word: 'hedphones', term: 'earphones', similarity: 0.33 },
    ]);
    expect(picked.get('hedphones')).toEqual(['headphones']);
  });
});

describe('cursors', () => {
  const fp = queryFingerprint({ sort: 'PRICE_ASC' });
  const position = { keys: ['19.99'], id: '7d3f8a52-9a4b-4c1e-8f2a-0b6c1d2e3f40' };

  it('should round-trip a position exactly', () => {
    expect(decodeCursor('after', encodeCursor(fp, position), fp, ['decimal'])).toEqual(position);
  });

  it('should refuse garbled cursors, cursors of another query and tampered keys', () => {
    expect(badField(() => decodeCursor('after', 'not-a-cursor', fp, ['decimal']))).toBe('after');
    expect(badField(() => decodeCursor('after', encodeCursor(queryFingerprint({ sort: 'NEWEST' }), position), fp, ['decimal']))).toBe('after');
    expect(badField(() => decodeCursor('after', encodeCursor(fp, { ...position, keys: ["1'; DROP TABLE product; --"] }), fp, ['decimal']))).toBe('after');
    expect(badField(() => decodeCursor('after', encodeCursor(fp, { ...position, id: 'x' }), fp, ['decimal']))).toBe('after');
  });
});

describe('product rules', () => {
  const valid = { name: 'Lamp', description: 'A lamp.', price: '10.00', categoryId: 'c' };

  it('should apply the defaults of createProduct', () => {
    expect(validateNewProduct(valid)).toEqual({ ...valid, currencyCode: 'USD', imageUrls: [], initialStock: 0, lowStockThreshold: 5 });
  });

  it('should name the offending field of createProduct', () => {
    expect(badField(() => validateNewProduct({ ...valid, price: '-5' }))).toBe('input.price');
    expect(badField(() => validateNewProduct({ ...valid, name: '   ' }))).toBe('input.name');
    expect(badField(() => validateNewProduct({ ...valid, name: 'x'.repeat(201) }))).toBe('input.name');
    expect(badField(() => validateNewProduct({ ...valid, description: 'x'.repeat(10_001) }))).toBe('input.description');
    expect(badField(() => validateNewProduct({ ...valid, imageUrls: ['ftp://x'] }))).toBe('input.imageUrls.0');
    expect(badField(() => validateNewProduct({ ...valid, initialStock: -1 }))).toBe('input.initialStock');
  });

  it('should keep absent fields of updateProduct and refuse explicit nulls', () => {
    expect(validateProductChanges({ price: '12.5' })).toEqual({ price: '12.50' });
    expect(badField(() => validateProductChanges({ name: null }))).toBe('input.name');
  });

  it('should validate filters', () => {
    expect(validateFilter({ search: '  ', minPrice: '10', maxPrice: '20' })).toMatchObject({ searchWords: [], minPrice: '10.00', maxPrice: '20.00' });
    expect(badField(() => validateFilter({ minPrice: '30', maxPrice: '20' }))).toBe('filter.maxPrice');
    expect(badField(() => validateFilter({ minRating: 6 }))).toBe('filter.minRating');
    expect(badField(() => validateFilter({ minPrice: '-1' }))).toBe('filter.minPrice');
  });
});

describe('ratings and slugs', () => {
  it('should average ratings to two decimals, null without reviews', () => {
    expect(averageRating(13, 3)).toBe(4.33);
    expect(averageRating(0, 0)).toBeNull();
  });

  it('should accept ratings 1..5 only and trim comments', () => {
    expect(validateRating(5)).toBe(5);
    expect(badField(() => validateRating(0))).toBe('rating');
    expect(badField(() => validateRating(6))).toBe('rating');
    expect(validateComment('  ')).toBeNull();
    expect(badField(() => validateComment('x'.repeat(2001)))).toBe('comment');
  });

  it('should make URL-safe slugs and number duplicates', () => {
    expect(slugify('Wireless Noise-Cancelling Headphones')).toBe('wireless-noise-cancelling-headphones');
    expect(slugify('Café Crème 27"')).toBe('cafe-creme-27');
    expect(slugify('日本語', 'product')).toBe('product');
    expect(firstFreeSlug('lamp', new Set(['lamp', 'lamp-2']))).toBe('lamp-3');
  });
});
