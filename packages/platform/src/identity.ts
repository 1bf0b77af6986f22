import { forbidden, unauthenticated } from './errors';

export type Role = 'CUSTOMER' | 'ADMIN';

/** The verified caller, as established by the gateway from the access token. */
export interface Identity {
  readonly userId: string;
  readonly roles: readonly Role[];
  readonly sessionId: string;
  /** Access token expiry, seconds since the epoch. */
  readonly exp: number;
}

/** Issuer (`iss`) of the users service's access tokens; the gateway accepts no other. */
export const TOKEN_ISSUER = 'shop-users';
/** Audience (`aud`) of the access tokens. */
export const TOKEN_AUDIENCE = 'shop';

/** Context shape every subgraph's GraphQL context includes. */
export interface AuthContext {
  readonly identity: Identity | null;
}

/** The signed-in identity, or UNAUTHENTICATED. */
export function requireUser(ctx: AuthContext): Identity {
  if (!ctx.identity) throw unauthenticated();
  return ctx.identity;
}

/** The signed-in ADMIN identity; UNAUTHENTICATED without a token, FORBIDDEN for others. */
export function requireAdmin(ctx: AuthContext): Identity {
  const identity = requireUser(ctx);
  if (!identity.roles.includes('ADMIN')) throw forbidden('This operation is for administrators only.');
  return identity;
}

export function isAdmin(identity: Identity | null): boolean {
  return identity?.roles.includes('ADMIN') ?? false;
}
