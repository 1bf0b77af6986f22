/**
 * Requests from the gateway to a subgraph, signed so that a subgraph answers nobody else.
 *
 * The gateway signs every request it sends to a subgraph (HTTP and the graphql-ws handshake) with
 * the internal secret. The signature binds:
 * - the audience: the subgraph the request was minted for (a header captured on orders is refused
 *   by users);
 * - the request: method, path and the SHA-256 of the body (a captured header cannot carry another
 *   operation or other variables);
 * - a short lifetime (`iat`..`exp`, seconds; a subgraph also refuses a lifetime above its maximum
 *   and an `iat` in the future beyond the clock skew);
 * - the caller's identity and network address, as the gateway established them.
 *
 * A subgraph also refuses an identity whose session it knows to be revoked (it follows users'
 * session events itself, see revocations.ts). Threat model: docs/notes/security.md.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { unauthenticated } from './errors';
import type { Identity } from './identity';

/** Header carrying the gateway's signature of a subgraph request: `v1.<iat ms>.<exp ms>.<mac>`. */
export const GATEWAY_SIGNATURE_HEADER = 'x-shop-gateway-signature';
/** Header carrying the caller's identity (base64url JSON), covered by the gateway signature. */
export const IDENTITY_HEADER = 'x-shop-identity';
/**
 * Header carrying the caller's network address from the gateway to subgraphs (for per-address rate
 * limits), covered by the gateway signature. A header of its own rather than `x-forwarded-for`,
 * which proxies between the gateway and a subgraph may append to.
 */
export const CLIENT_ADDRESS_HEADER = 'x-shop-client-address';

/** Lifetime of a signature the gateway mints. Default 10 s. */
export const DEFAULT_INTERNAL_REQUEST_TTL_SECONDS = 10;
/** Longest lifetime a subgraph accepts. Default 60 s. */
export const DEFAULT_INTERNAL_REQUEST_MAX_TTL_SECONDS = 60;
/** Clock difference tolerated between the gateway and a subgraph. Default 5 s. */
export const DEFAULT_INTERNAL_CLOCK_SKEW_SECONDS = 5;

/** What is signed: the request as the subgraph will receive it. */
export interface InternalRequest {
  /** The subgraph's name (the audience). */
  readonly audience: string;
  readonly method: string;
  /** Path and query string, e.g. `/graphql`. */
  readonly path: string;
}

export interface SignOptions extends InternalRequest {
  readonly secret: string;
  /** The exact body that is sent ('' for none). */
  readonly body: string | Uint8Array;
  readonly identity?: Identity | null | undefined;
  readonly clientAddress?: string | null | undefined;
  /** Default {@link DEFAULT_INTERNAL_REQUEST_TTL_SECONDS}. */
  readonly ttlSeconds?: number;
  /** ms since the epoch. Default now. */
  readonly now?: number;
}

/** The headers that make one request to one subgraph acceptable there. */
export function signInternalRequest(options: SignOptions): Record<string, string> {
  const iat = Math.floor(options.now ?? Date.now());
  const exp = iat + Math.round((options.ttlSeconds ?? DEFAULT_INTERNAL_REQUEST_TTL_SECONDS) * 1000);
  const identity = options.identity ? Buffer.from(JSON.stringify(options.identity)).toString('base64url') : '';
  const address = options.clientAddress ?? '';
  const mac = macOf(options.secret, options, iat, exp, bodyDigest(options.body), identity, address);
  return {
    [GATEWAY_SIGNATURE_HEADER]: `v1.${iat}.${exp}.${mac}`,
    ...(identity ? { [IDENTITY_HEADER]: identity } : {}),
    ...(address ? { [CLIENT_ADDRESS_HEADER]: address } : {}),
  };
}

export interface VerifyOptions extends InternalRequest {
  readonly secret: string;
  /** {@link bodyDigest} of the body received. */
  readonly bodyDigest: string;
  /** Sessions this subgraph knows to be revoked. */
  readonly isRevoked?: (sessionId: string) => boolean;
  /** Default {@link DEFAULT_INTERNAL_REQUEST_MAX_TTL_SECONDS}. */
  readonly maxTtlSeconds?: number;
  /** Default {@link DEFAULT_INTERNAL_CLOCK_SKEW_SECONDS}. */
  readonly clockSkewSeconds?: number;
  /** ms since the epoch. Default now. */
  readonly now?: number;
}

/** What a verified request carries. */
export interface VerifiedRequest {
  readonly identity: Identity | null;
  readonly clientAddress: string | null;
}

/**
 * Checks the gateway's signature of an incoming subgraph request (see the module comment) and
 * answers its identity and client address; throws UNAUTHENTICATED (a request-level error) when
 * the signature is missing, forged, minted for another subgraph or request, expired or too long-lived,
 * or when the identity's session is revoked or its token expired.
 */
export function verifyInternalRequest(headers: Record<string, string | string[] | undefined>, options: VerifyOptions): VerifiedRequest {
  const signature = first(headers[GATEWAY_SIGNATURE_HEADER]);
  if (!signature) throw refused('This service answers only requests signed by the gateway.');
  const [version, iatText, expText, mac, ...rest] = signature.split('.');
  const iat = Number(iatText);
  const exp = Number(expText);
  if (version !== 'v1' || !mac || rest.length || !Number.isSafeInteger(iat) || !Number.isSafeInteger(exp)) throw refused('Malformed gateway signature.');
  const identityPayload = first(headers[IDENTITY_HEADER]) ?? '';
  const address = first(headers[CLIENT_ADDRESS_HEADER]) ?? '';
  const expected = Buffer.from(macOf(options.secret, options, iat, exp, options.bodyDigest, identityPayload, address));
  const given = Buffer.from(mac);
  // Minted for another subgraph, another request, or with another secret: the MAC differs.
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) throw refused('Invalid gateway signature.');
  const now = options.now ?? Date.now();
  const skew = (options.clockSkewSeconds ?? DEFAULT_INTERNAL_CLOCK_SKEW_SECONDS) * 1000;
  if (iat > now + skew) throw refused('Gateway signature issued in the future.');
  if (exp - iat > (options.maxTtlSeconds ?? DEFAULT_INTERNAL_REQUEST_MAX_TTL_SECONDS) * 1000) throw refused('Gateway signature lives too long.');
  if (now > exp + skew) throw refused('Gateway signature expired.');
  const identity = identityPayload ? parseIdentity(identityPayload) : null;
  if (identity && identity.exp <= now / 1000) throw refused('Your session has expired.');
  if (identity && options.isRevoked?.(identity.sessionId)) throw refused('This session was signed out. Please sign in again.');
  return { identity, clientAddress: address || null };
}

/**
 * One subscription's identity on a shared gateway→subgraph graphql-ws connection: the subscribe
 * message's `extensions[SUBSCRIPTION_IDENTITY_EXTENSION]` holds headers signed as a request
 * `SUBSCRIBE <path>` whose body is {@link subscriptionBody} of that message (so a captured
 * signature cannot carry another operation or other variables), this subgraph as audience, a
 * lifetime of seconds (signed afresh whenever the message is sent again after a reconnection).
 * The connection's own `connection_init` only proves it is the gateway (no identity), so upstream
 * sockets do not grow with signed-in users (docs/notes/subscriptions.md).
 */
export const SUBSCRIPTION_IDENTITY_EXTENSION = 'shopIdentity';
/** The method a subscription's identity is signed for. */
export const SUBSCRIBE_METHOD = 'SUBSCRIBE';

/** The body a subscription's identity signature binds: its query and variables. */
export function subscriptionBody(query: string, variables: unknown): string {
  return JSON.stringify([query, variables ?? null]);
}

/** Hex SHA-256 of a body, as the signature binds it. */
export function bodyDigest(body: string | Uint8Array): string {
  return createHash('sha256').update(body).digest('hex');
}

function macOf(secret: string, request: InternalRequest, iat: number, exp: number, digest: string, identity: string, address: string): string {
  const signed = ['v1', request.audience, iat, exp, request.method.toUpperCase(), request.path, digest, identity, address].join('\n');
  return createHmac('sha256', secret).update(signed).digest('base64url');
}

function parseIdentity(payload: string): Identity {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw refused('Malformed identity.');
  }
  const identity = parsed as Identity;
  if (typeof identity?.userId !== 'string' || typeof identity.sessionId !== 'string' || !Array.isArray(identity.roles) || typeof identity.exp !== 'number') {
    throw refused('Malformed identity.');
  }
  return identity;
}

function refused(message: string) {
  return unauthenticated(message, { http: { status: 401 } });
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
