import { createHmac, createSecretKey, timingSafeEqual } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { jwtVerify } from 'jose';
import type { JWTPayload } from 'jose';
import type { Identity, Role } from '@shop/platform';
import { histogram, publicError, TOKEN_AUDIENCE, TOKEN_ISSUER } from '@shop/platform';

/** Issuer and audience of the users service's access tokens (defined in the platform, shared with users). */
export { TOKEN_AUDIENCE, TOKEN_ISSUER };

/** Verifies an access token and answers the identity it carries, or throws UNAUTHENTICATED. */
export interface AccessTokenVerifier {
  verify(token: string): Promise<Identity>;
}

/** Tells whether a session was revoked (logout, password reset, refresh-token reuse, roles taken away). */
export interface RevocationList {
  isRevoked(sessionId: string): boolean;
}

const ROLES: ReadonlySet<string> = new Set<Role>(['CUSTOMER', 'ADMIN']);

const verifySeconds = histogram({
  name: 'gateway_auth_token_verification_duration_seconds',
  help: 'Time to verify an access token at the gateway (signature, claims, revocation), by outcome: valid, expired, revoked or invalid.',
  labelNames: ['outcome'],
  buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05],
});

class RejectedToken extends Error {
  constructor(readonly outcome: 'expired' | 'revoked' | 'invalid') {
    super(outcome);
  }
}

export interface JwtVerifierOptions {
  /** Longest lifetime (`exp - iat`) accepted, in seconds. Default 3600 (users issues 900). */
  readonly maxLifetimeSeconds?: number;
  /** Clock difference tolerated for an `iat` in the future, in seconds (`exp` gets none: a token ends when it says). Default 30. */
  readonly clockSkewSeconds?: number;
}

/**
 * Verifies HS256 JWTs signed by the users service (`sub`, `roles`, `sid`, `iat`, `exp`, issuer and
 * audience), refuses a token issued in the future (beyond the clock skew) or living longer than
 * the maximum (a token minted with a stolen key to last for years), then checks the session
 * against the revocation list, which users' session events feed (see revocations.ts). Unknown
 * roles in a token are dropped, never trusted.
 */
export function jwtVerifier(secret: string, revocations?: RevocationList, options: JwtVerifierOptions = {}): AccessTokenVerifier {
  // A WebCrypto key imported once: given a KeyObject, jose imports it again on every verification
  // (a third of the cost of a cached answer in the gateway benchmark's profile).
  const key = crypto.subtle.importKey('raw', Buffer.from(secret, 'utf8'), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
  // For the synchronous check: node:crypto's HMAC with a KeyObject (given a Buffer it costs ~8× as much).
  const secretKey = createSecretKey(Buffer.from(secret, 'utf8'));
  const skew = options.clockSkewSeconds ?? 30;
  const maxLifetime = options.maxLifetimeSeconds ?? 3600;
  return {
    async verify(token) {
      const end = verifySeconds.startTimer();
      try {
        const payload =
          acceptedAtOnce(token, secretKey, Math.floor(Date.now() / 1000)) ??
          (
            await jwtVerify(token, await key, { issuer: TOKEN_ISSUER, audience: TOKEN_AUDIENCE, algorithms: ['HS256'], requiredClaims: ['iat', 'exp', 'sub'] }).catch((error: unknown) => {
              throw new RejectedToken((error as { code?: string }).code === 'ERR_JWT_EXPIRED' ? 'expired' : 'invalid');
            })
          ).payload;
        const roles = Array.isArray(payload['roles']) ? (payload['roles'] as unknown[]).filter((r): r is Role => typeof r === 'string' && ROLES.has(r)) : [];
        const sid = typeof payload['sid'] === 'string' ? payload['sid'] : '';
        if (!payload.sub || !sid || !payload.exp || payload.iat === undefined) throw new RejectedToken('invalid');
        if (payload.iat > Date.now() / 1000 + skew || payload.exp - payload.iat > maxLifetime) throw new RejectedToken('invalid');
        if (revocations?.isRevoked(sid)) throw new RejectedToken('revoked');
        end({ outcome: 'valid' });
        return { userId: payload.sub, roles, sessionId: sid, exp: payload.exp };
      } catch (error) {
        const outcome = error instanceof RejectedToken ? error.outcome : 'invalid';
        end({ outcome });
        throw publicError(
          'UNAUTHENTICATED',
          outcome === 'expired' ? 'Your session has expired.' : outcome === 'revoked' ? 'This session was signed out. Please sign in again.' : 'Invalid access token.',
          { requestLevel: true },
        );
      }
    },
  };
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * The claims of `token`, checked synchronously, when it is what jose's `jwtVerify` above accepts
 * in the ordinary case: three base64url parts, the signature exactly the HMAC-SHA256 of the first
 * two with `secret`, a header with `alg: HS256` and neither `crit` nor `b64`, a JSON object of
 * claims with our issuer and audience, a numeric `iat`, a string `sub`, a numeric `exp` not yet
 * reached and no `nbf` in the future (jose's rules at zero clock tolerance); undefined for
 * anything else, which jose then decides (and names: expired or invalid). jose verifies through
 * WebCrypto, an asynchronous job per token: with the claims checks about 6 % of the gateway's CPU
 * per uncached request in the benchmark's profile (docs/notes/gateway-bench.md); this is ~3 µs.
 */
function acceptedAtOnce(token: string, secret: KeyObject, nowSeconds: number): JWTPayload | undefined {
  const first = token.indexOf('.');
  const second = token.indexOf('.', first + 1);
  if (first < 1 || second < 0 || token.indexOf('.', second + 1) !== -1) return undefined;
  const signature = Buffer.from(token.slice(second + 1), 'utf8');
  const expected = Buffer.from(createHmac('sha256', secret).update(token.slice(0, second)).digest('base64url'), 'utf8');
  if (signature.length !== expected.length || !timingSafeEqual(signature, expected)) return undefined;
  const header = jsonSegment(token.slice(0, first));
  if (!header || header['alg'] !== 'HS256' || Object.hasOwn(header, 'crit') || Object.hasOwn(header, 'b64')) return undefined;
  const claims = jsonSegment(token.slice(first + 1, second));
  if (!claims) return undefined;
  const { iss, aud, exp, iat, nbf, sub } = claims;
  if (iss !== TOKEN_ISSUER || !(aud === TOKEN_AUDIENCE || (Array.isArray(aud) && aud.includes(TOKEN_AUDIENCE)))) return undefined;
  if (typeof exp !== 'number' || exp <= nowSeconds || typeof iat !== 'number' || typeof sub !== 'string') return undefined;
  if (nbf !== undefined && (typeof nbf !== 'number' || nbf > nowSeconds)) return undefined;
  return claims as JWTPayload;
}

/** A base64url part of a JWT as the JSON object it encodes (strict UTF-8), or undefined. */
function jsonSegment(segment: string): Record<string, unknown> | undefined {
  if (!BASE64URL.test(segment)) return undefined;
  try {
    const value: unknown = JSON.parse(strictUtf8.decode(Buffer.from(segment, 'base64url')));
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Extracts the bearer token of an `Authorization` header value (null when absent). */
export function bearerToken(header: string | undefined | null): string | null {
  if (!header) return null;
  const match = /^Bearer\s+(.+)$/i.exec(header.trim());
  if (!match?.[1]) throw publicError('UNAUTHENTICATED', 'Authorization header must be "Bearer <token>".', { requestLevel: true });
  return match[1];
}
