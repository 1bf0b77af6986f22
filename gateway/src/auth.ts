import { createSecretKey } from 'node:crypto';
import { jwtVerify } from 'jose';
import { GraphQLError } from 'graphql';
import type { Identity, Role } from '@shop/platform';
import { histogram } from '@shop/platform';

/** Verifies an access token and answers the identity it carries, or throws UNAUTHENTICATED. */
export interface AccessTokenVerifier {
  verify(token: string): Promise<Identity>;
}

/** Tells whether a session was revoked (logout, password reset, refresh-token reuse). */
export interface RevocationList {
  isRevoked(sessionId: string, issuedAtSeconds: number): boolean;
}

/** Issuer and audience of the users service's access tokens. */
export const TOKEN_ISSUER = 'shop-users';
export const TOKEN_AUDIENCE = 'shop';

const verifySeconds = histogram({ name: 'auth_token_verification_duration_seconds', help: 'Time to verify an access token at the gateway.', labelNames: ['outcome'], buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05] });

/**
 * Verifies HS256 JWTs signed by the users service (`sub`, `roles`, `sid`, `exp`), then checks the
 * session against the revocation list, which is fed by users' session events.
 */
export function jwtVerifier(secret: string, revocations?: RevocationList): AccessTokenVerifier {
  const key = createSecretKey(Buffer.from(secret, 'utf8'));
  return {
    async verify(token) {
      const end = verifySeconds.startTimer();
      try {
        const { payload } = await jwtVerify(token, key, { issuer: TOKEN_ISSUER, audience: TOKEN_AUDIENCE, algorithms: ['HS256'] });
        const roles = Array.isArray(payload['roles']) ? (payload['roles'] as Role[]) : [];
        const sid = typeof payload['sid'] === 'string' ? payload['sid'] : '';
        if (!payload.sub || !sid || !payload.exp) throw new Error('incomplete token');
        if (revocations?.isRevoked(sid, payload.iat ?? 0)) throw new Error('revoked');
        end({ outcome: 'valid' });
        return { userId: payload.sub, roles, sessionId: sid, exp: payload.exp };
      } catch (error) {
        end({ outcome: 'invalid' });
        const expired = (error as { code?: string }).code === 'ERR_JWT_EXPIRED';
        throw new GraphQLError(expired ? 'Your session has expired.' : 'Invalid or revoked access token.', {
          extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } },
        });
      }
    },
  };
}

/** Extracts the bearer token of an `Authorization` header value (null when absent). */
export function bearerToken(header: string | undefined | null): string | null {
  if (!header) return null;
  const match = /^Bearer\s+(.+)$/i.exec(header.trim());
  if (!match?.[1]) throw new GraphQLError('Authorization header must be "Bearer <token>".', { extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } });
  return match[1];
}
