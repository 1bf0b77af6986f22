import { createSecretKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import type { Role } from './identity';
import { TOKEN_AUDIENCE, TOKEN_ISSUER } from './identity';

/** A signed access token and when it expires. */
export interface IssuedAccessToken {
  readonly token: string;
  readonly expiresAt: Date;
}

/**
 * Issues the access tokens the gateway verifies: HS256 JWTs with `sub` (user id), `roles`, `sid`
 * (session id), `iat`, `exp`, `iss` and `aud`. Short-lived on purpose (default 15 min): the
 * refresh token renews them, and a revoked session only has to stay on the deny list that long.
 */
export class AccessTokenIssuer {
  private readonly key: KeyObject;

  constructor(
    secret: string,
    /** Lifetime in seconds. */
    readonly ttlSeconds: number,
  ) {
    this.key = createSecretKey(Buffer.from(secret, 'utf8'));
  }

  async issue(claims: { userId: string; roles: readonly Role[]; sessionId: string }, now = new Date()): Promise<IssuedAccessToken> {
    const iat = Math.floor(now.getTime() / 1000);
    const exp = iat + this.ttlSeconds;
    const token = await new SignJWT({ roles: [...claims.roles], sid: claims.sessionId })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(claims.userId)
      .setIssuer(TOKEN_ISSUER)
      .setAudience(TOKEN_AUDIENCE)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .sign(this.key);
    return { token, expiresAt: new Date(exp * 1000) };
  }

  /** The latest moment an access token issued now can still be valid (the deny list keeps entries until then). */
  lastValidAt(now = new Date()): Date {
    return new Date(now.getTime() + (this.ttlSeconds + 1) * 1000);
  }
}

