import { randomBytes } from 'node:crypto';
import { ConfigError } from '@shop/platform';
import { DEVELOPMENT_PII_KEYS, PiiCipher } from '../src/pii-cipher';

const key = (id: string) => `${id}:${randomBytes(32).toString('base64')}`;

describe('personal data encryption', () => {
  it('should round-trip with a fresh nonce each time and store the key id', () => {
    const cipher = new PiiCipher(key('2025'));
    const a = cipher.encrypt('+14155550100', 'app_user.phone:u1');
    const b = cipher.encrypt('+14155550100', 'app_user.phone:u1');
    expect(a).not.toBe(b);
    expect(a).toMatch(/^v1:2025:[A-Za-z0-9_-]+$/);
    expect(a).not.toContain('4155550100');
    expect(cipher.decrypt(a, 'app_user.phone:u1')).toBe('+14155550100');
  });

  it('should refuse a value moved to another row or tampered with', () => {
    const cipher = new PiiCipher(key('k'));
    const stored = cipher.encrypt('221B Baker Street', 'address.line1:a1');
    expect(() => cipher.decrypt(stored, 'address.line1:a2')).toThrow();
    const raw = Buffer.from(stored.split(':')[2]!, 'base64url');
    raw[14] = raw[14]! ^ 1;
    expect(() => cipher.decrypt(`v1:k:${raw.toString('base64url')}`, 'address.line1:a1')).toThrow();
  });

  it('should decrypt with an older key after rotation and encrypt with the first', () => {
    const old = key('old');
    const before = new PiiCipher(old).encrypt('secret', 'c');
    const rotated = new PiiCipher(`${key('new')},${old}`);
    expect(rotated.keyId).toBe('new');
    expect(rotated.decrypt(before, 'c')).toBe('secret');
    expect(rotated.encrypt('secret', 'c')).toMatch(/^v1:new:/);
    expect(() => new PiiCipher(key('other')).decrypt(before, 'c')).toThrow(/Unknown PII key id "old"/);
  });

  it('should refuse keys that are not 32 bytes or ids used twice', () => {
    expect(() => new PiiCipher(`k:${randomBytes(16).toString('base64')}`)).toThrow(ConfigError);
    const k = key('same');
    expect(() => new PiiCipher(`${k},${k}`)).toThrow(ConfigError);
  });

  it('should ship a development key that is valid and labelled as such', () => {
    expect(new PiiCipher(DEVELOPMENT_PII_KEYS).keyId).toBe('dev');
  });
});
