import { createHmac, timingSafeEqual } from 'node:crypto';
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

/** Header carrying the identity (base64url JSON) from the gateway to subgraphs. */
export const IDENTITY_HEADER = 'x-shop-identity';
/** Header carrying the HMAC-SHA256 of the identity header, keyed with INTERNAL_AUTH_SECRET. */
export const IDENTITY_SIGNATURE_HEADER = 'x-shop-identity-signature';

function mac(secret: string, payload: string): string {
  return createHmac('sha256', secret).update(payload).digest('base64url');
}

/** Serialises and signs an identity for a subgraph request. */
export function signIdentity(identity: Identity, secret: string): Record<string, string> {
  const payload = Buffer.from(JSON.stringify(identity)).toString('base64url');
  return { [IDENTITY_HEADER]: payload, [IDENTITY_SIGNATURE_HEADER]: mac(secret, payload) };
}

/**
 * Reads the identity headers of an incoming subgraph request.
 * Returns null when there are none (an anonymous call); throws UNAUTHENTICATED when the
 * signature is wrong (a forged identity) or the identity has expired.
 */
export function verifyIdentity(headers: Record<string, string | string[] | undefined>, secret: string, nowSeconds = Date.now() / 1000): Identity | null {
  const payload = first(headers[IDENTITY_HEADER]);
  const signature = first(headers[IDENTITY_SIGNATURE_HEADER]);
  if (!payload && !signature) return null;
  if (!payload || !signature) throw unauthenticated('Incomplete identity headers.');
  const expected = Buffer.from(mac(secret, payload));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) throw unauthenticated('Invalid identity signature.');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw unauthenticated('Malformed identity.');
  }
  const identity = parsed as Identity;
  if (typeof identity.userId !== 'string' || !Array.isArray(identity.roles) || typeof identity.exp !== 'number') throw unauthenticated('Malformed identity.');
  if (identity.exp <= nowSeconds) throw unauthenticated('Your session has expired.');
  return identity;
}

/**
 * Header carrying the caller's network address from the gateway to subgraphs (for per-address rate
 * limits). A header of its own rather than `x-forwarded-for`, which proxies between the gateway
 * and a subgraph may append to (that would break the signature).
 */
export const CLIENT_ADDRESS_HEADER = 'x-shop-client-address';
/** Header carrying the HMAC-SHA256 of the client address header, keyed with INTERNAL_AUTH_SECRET. */
export const CLIENT_ADDRESS_SIGNATURE_HEADER = 'x-shop-client-address-signature';

/** Signs the client address the gateway saw, for a subgraph request. */
export function signClientAddress(address: string, secret: string): Record<string, string> {
  return { [CLIENT_ADDRESS_HEADER]: address, [CLIENT_ADDRESS_SIGNATURE_HEADER]: mac(secret, `client-address:${address}`) };
}

/**
 * The client address signed by the gateway, or null when the headers are absent or their
 * signature is wrong (a caller that forges them is then identified by its own socket address).
 */
export function verifyClientAddress(headers: Record<string, string | string[] | undefined>, secret: string): string | null {
  const address = first(headers[CLIENT_ADDRESS_HEADER]);
  const signature = first(headers[CLIENT_ADDRESS_SIGNATURE_HEADER]);
  if (!address || !signature) return null;
  const expected = Buffer.from(mac(secret, `client-address:${address}`));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given) ? address : null;
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

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
