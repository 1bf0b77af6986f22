import { createHash, randomBytes } from 'node:crypto';

export { AccessTokenIssuer } from '@shop/platform';
export type { IssuedAccessToken } from '@shop/platform';

/** A high-entropy opaque token (refresh, password reset, e-mail verification): 256 random bits, base64url, with a readable prefix. */
export function opaqueToken(prefix: 'rt' | 'pr' | 'ev'): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}

/**
 * What the database stores instead of an opaque token: its SHA-256. A fast hash is enough (and
 * lets the token be looked up by its hash) because the token has 256 bits of entropy.
 */
export function tokenHash(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}
