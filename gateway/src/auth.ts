import type { KeyObject } from 'node:crypto';
import { createHmac, createSecretKey, timingSafeEqual } from 'node:crypto';
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

/** Why a token was refused (the metric's outcome). */
export class RejectedToken extends Error {
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
 *
 * The signature is checked with node:crypto's HMAC, synchronously (see {@link verifyHs256}):
 * jose's `jwtVerify` goes through WebCrypto, one thread-pool job and two promise hops per token,
 * which was a third of the CPU of a whole-answer cache hit (docs/notes/gateway-cache.md). jose
 * still signs the tokens (users), and gateway/tests/auth.test.ts checks that this verifier and
 * jose's agree on every token of a corpus of valid, expired and malformed ones.
 */
export function jwtVerifier(secret: string, revocations?: RevocationList, options: JwtVerifierOptions = {}): AccessTokenVerifier {
  const key = createSecretKey(Buffer.from(secret, 'utf8'));
  const skew = options.clockSkewSeconds ?? 30;
  const maxLifetime = options.maxLifetimeSeconds ?? 3600;
  const timers = { valid: verifySeconds.labels({ outcome: 'valid' }), expired: verifySeconds.labels({ outcome: 'expired' }), revoked: verifySeconds.labels({ outcome: 'revoked' }), invalid: verifySeconds.labels({ outcome: 'invalid' }) };
  const verifyNow = (token: string): Identity => {
    const started = performance.now();
    let outcome: RejectedToken['outcome'];
    try {
      const payload = verifyHs256(token, key, TOKEN_ISSUER, TOKEN_AUDIENCE);
      const roles = Array.isArray(payload['roles']) ? (payload['roles'] as unknown[]).filter((r): r is Role => typeof r === 'string' && ROLES.has(r)) : [];
      const sid = typeof payload['sid'] === 'string' ? payload['sid'] : '';
      const { sub, iat, exp } = payload as { sub?: unknown; iat: number; exp: number };
      if (typeof sub !== 'string' || !sub || !sid || !exp) throw new RejectedToken('invalid');
      if (iat > Date.now() / 1000 + skew || exp - iat > maxLifetime) throw new RejectedToken('invalid');
      if (revocations?.isRevoked(sid)) throw new RejectedToken('revoked');
      timers.valid.observe((performance.now() - started) / 1000);
      return { userId: sub, roles, sessionId: sid, exp };
    } catch (error) {
      outcome = error instanceof RejectedToken ? error.outcome : 'invalid';
    }
    timers[outcome].observe((performance.now() - started) / 1000);
    throw publicError(
      'UNAUTHENTICATED',
      outcome === 'expired' ? 'Your session has expired.' : outcome === 'revoked' ? 'This session was signed out. Please sign in again.' : 'Invalid access token.',
      { requestLevel: true },
    );
  };
  return {
    verify: (token) => {
      try {
        return Promise.resolve(verifyNow(token));
      } catch (error) {
        return Promise.reject(error as Error);
      }
    },
  };
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * The claims of a compact HS256 JWT whose signature `key` made, checked as jose's `jwtVerify`
 * checks them with `{ issuer, audience, algorithms: ['HS256'], requiredClaims: ['iat', 'exp',
 * 'sub'] }` and no clock tolerance: three base64url parts, a protected header with `alg: HS256`
 * and no `crit` (jose refuses every critical extension but `b64`, which a JWT may not turn off),
 * the HMAC-SHA256 of `header.payload` (compared in constant time), a JSON object payload, `iss`
 * and `aud` (a string or an array holding it), numeric `iat`, `exp` in the future, `nbf` (when
 * present) not in the future, `sub` present. Throws {@link RejectedToken}: `expired` for a valid
 * signature whose `exp` has passed, else `invalid`.
 */
export function verifyHs256(token: string, key: KeyObject, issuer: string, audience: string): Record<string, unknown> & { iat: number; exp: number } {
  const first = token.indexOf('.');
  const last = token.lastIndexOf('.');
  if (first <= 0 || last === first || last === token.length - 1 || token.indexOf('.', first + 1) !== last) throw new RejectedToken('invalid');
  const encodedHeader = token.slice(0, first);
  const encodedPayload = token.slice(first + 1, last);
  const encodedSignature = token.slice(last + 1);
  if (!BASE64URL.test(encodedHeader) || !BASE64URL.test(encodedPayload) || !BASE64URL.test(encodedSignature)) throw new RejectedToken('invalid');
  const header = parseObject(encodedHeader);
  if (header['alg'] !== 'HS256' || header['crit'] !== undefined) throw new RejectedToken('invalid');
  const signature = Buffer.from(encodedSignature, 'base64url');
  const expected = createHmac('sha256', key).update(token.slice(0, last)).digest();
  if (signature.length !== expected.length || !timingSafeEqual(signature, expected)) throw new RejectedToken('invalid');
  const payload = parseObject(encodedPayload);
  const now = Math.floor(Date.now() / 1000);
  const { iss, aud, iat, exp, nbf } = payload;
  if (iss !== issuer) throw new RejectedToken('invalid');
  if (aud !== audience && !(Array.isArray(aud) && aud.includes(audience))) throw new RejectedToken('invalid');
  if (typeof iat !== 'number' || typeof exp !== 'number' || !Object.hasOwn(payload, 'sub')) throw new RejectedToken('invalid');
  if (nbf !== undefined && (typeof nbf !== 'number' || nbf > now)) throw new RejectedToken('invalid');
  if (exp <= now) throw new RejectedToken('expired');
  return payload as Record<string, unknown> & { iat: number; exp: number };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A base64url part decoded as UTF-8 JSON (invalid UTF-8 refused, as jose's strict decoder does), which must be an object. */
function parseObject(encoded: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(Buffer.from(encoded, 'base64url')));
  } catch {
    throw new RejectedToken('invalid');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new RejectedToken('invalid');
  return value as Record<string, unknown>;
}

/** Extracts the bearer token of an `Authorization` header value (null when absent). */
export function bearerToken(header: string | undefined | null): string | null {
  if (!header) return null;
  const match = /^Bearer\s+(.+)$/i.exec(header.trim());
  if (!match?.[1]) throw publicError('UNAUTHENTICATED', 'Authorization header must be "Bearer <token>".', { requestLevel: true });
  return match[1];
}
