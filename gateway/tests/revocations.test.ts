import { randomUUID } from 'node:crypto';
import { createSecretKey } from 'node:crypto';
import { SignJWT } from 'jose';
import { SessionRevoked, sessionRevocationCause } from '@shop/events';
import { bodyDigest, createEnvelope, createLogger, InProcessBus, signInternalRequest, TOKEN_AUDIENCE, TOKEN_ISSUER, verifyInternalRequest } from '@shop/platform';
import { createTestPool, eventually } from '@shop/platform/testing';
import { jwtVerifier } from '../src/auth';
import { SessionRevocations } from '../src/revocations';

const logger = createLogger('gateway', 'silent');
const inMinutes = (m: number) => new Date(Date.now() + m * 60_000).toISOString();

function revocation(sessionIds: string[], expiresAt: string, cause?: string, userId = randomUUID()) {
  const data = { userId, sessionIds, reason: 'logout' as const, revokedAt: new Date().toISOString(), expiresAt, ...(cause ? { cause } : {}) };
  const envelope = createEnvelope('users', SessionRevoked, data.userId, data);
  return { topic: SessionRevoked.topic, key: data.userId, value: JSON.stringify(envelope) };
}

describe('the session deny list', () => {
  it('should deny a session until its last access token expires, then forget it', () => {
    const list = new SessionRevocations();
    list.revoke(['a'], Date.now() + 60_000);
    list.revoke(['b'], Date.now() - 1);
    expect(list.isRevoked('a')).toBe(true);
    expect(list.isRevoked('b')).toBe(false);
    expect(list.isRevoked('c')).toBe(false);
    list.apply({ sessionIds: ['a'], expiresAt: new Date(Date.now() + 1).toISOString() });
    expect(list.isRevoked('a')).toBe(true); // an earlier expiry never shortens an entry
  });

  it('should confirm a cause that arrives before or after the wait, and time out otherwise', async () => {
    const list = new SessionRevocations();
    list.apply({ sessionIds: [], expiresAt: inMinutes(15), cause: 'early' });
    await expect(list.waitForCause('early', 10)).resolves.toBe(true);
    const waiting = list.waitForCause('late', 2_000);
    setTimeout(() => list.apply({ sessionIds: ['s'], expiresAt: inMinutes(15), cause: 'late' }), 20);
    await expect(waiting).resolves.toBe(true);
    await expect(list.waitForCause('never', 30)).resolves.toBe(false);
  });

  it('should replay the retained session events when it starts following the bus, then apply new ones', async () => {
    const { pool, close } = await createTestPool('revocations');
    const bus = new InProcessBus({ pool, pollIntervalMs: 20 });
    try {
      const old = randomUUID();
      const expired = randomUUID();
      // One user: one partition, so `expired` and the malformed message are handled before `old`.
      const user = randomUUID();
      await bus.publish([
        revocation([expired], new Date(Date.now() - 1_000).toISOString(), undefined, user),
        { topic: SessionRevoked.topic, key: user, value: 'not json' },
        revocation([old], inMinutes(15), undefined, user),
      ]);
      const list = new SessionRevocations();
      const feed = await list.follow({ bus, logger, quietMs: 100 });
      await feed.replayed;
      await eventually(() => list.isRevoked(old), 5_000);
      expect(list.isRevoked(expired)).toBe(false);

      const fresh = randomUUID();
      const cause = sessionRevocationCause('pr_token');
      await bus.publish([revocation([fresh], inMinutes(15), cause)]);
      await expect(list.waitForCause(cause, 5_000)).resolves.toBe(true);
      expect(list.isRevoked(fresh)).toBe(true);
      await feed.stop();
    } finally {
      await bus.close();
      await close();
    }
  });
});

describe('access token verification', () => {
  const secret = 'a'.repeat(43);
  const sign = (claims: Record<string, unknown>, sub = randomUUID()) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setIssuer(TOKEN_ISSUER).setAudience(TOKEN_AUDIENCE).setIssuedAt().setExpirationTime('5m').sign(createSecretKey(Buffer.from(secret)));

  it('should refuse a revoked session and drop roles it does not know', async () => {
    const list = new SessionRevocations();
    const verifier = jwtVerifier(secret, list);
    const sid = randomUUID();
    const identity = await verifier.verify(await sign({ roles: ['CUSTOMER', 'ROOT'], sid }));
    expect(identity).toMatchObject({ roles: ['CUSTOMER'], sessionId: sid });
    list.revoke([sid], Date.now() + 60_000);
    await expect(verifier.verify(await sign({ roles: ['CUSTOMER'], sid }))).rejects.toMatchObject({ extensions: { code: 'UNAUTHENTICATED' }, message: expect.stringMatching(/signed out/) });
    await expect(verifier.verify(await sign({ roles: ['CUSTOMER'] }))).rejects.toMatchObject({ extensions: { code: 'UNAUTHENTICATED' } });
  });

  const mint = (iat: number, exp: number) =>
    new SignJWT({ roles: ['CUSTOMER'], sid: randomUUID() }).setProtectedHeader({ alg: 'HS256' }).setSubject(randomUUID()).setIssuer(TOKEN_ISSUER).setAudience(TOKEN_AUDIENCE).setIssuedAt(iat).setExpirationTime(exp).sign(createSecretKey(Buffer.from(secret)));

  it('should refuse a token issued in the future beyond the clock skew, and accept one within it', async () => {
    const verifier = jwtVerifier(secret, undefined, { clockSkewSeconds: 30 });
    const now = Math.floor(Date.now() / 1000);
    await expect(verifier.verify(await mint(now + 3600, now + 3600 + 900))).rejects.toMatchObject({ extensions: { code: 'UNAUTHENTICATED' }, message: 'Invalid access token.' });
    await expect(verifier.verify(await mint(now + 10, now + 900))).resolves.toMatchObject({ roles: ['CUSTOMER'] });
  });

  it('should refuse a token whose lifetime is above the configured maximum, and one without iat', async () => {
    const verifier = jwtVerifier(secret, undefined, { maxLifetimeSeconds: 3600 });
    const now = Math.floor(Date.now() / 1000);
    await expect(verifier.verify(await mint(now, now + 10 * 365 * 24 * 3600))).rejects.toMatchObject({ extensions: { code: 'UNAUTHENTICATED' } });
    await expect(verifier.verify(await mint(now, now + 3600))).resolves.toMatchObject({ roles: ['CUSTOMER'] });
    const noIat = await new SignJWT({ roles: ['CUSTOMER'], sid: randomUUID() }).setProtectedHeader({ alg: 'HS256' }).setSubject(randomUUID()).setIssuer(TOKEN_ISSUER).setAudience(TOKEN_AUDIENCE).setExpirationTime('5m').sign(createSecretKey(Buffer.from(secret)));
    await expect(verifier.verify(noIat)).rejects.toMatchObject({ extensions: { code: 'UNAUTHENTICATED' } });
  });
});

describe('the gateway signature of a subgraph request', () => {
  const secret = 'internal-secret-internal-secret-internal';
  const identity = { userId: randomUUID(), roles: ['CUSTOMER' as const], sessionId: randomUUID(), exp: Math.floor(Date.now() / 1000) + 600 };
  const body = JSON.stringify({ query: '{ me { id } }' });
  const request = { audience: 'users', method: 'POST', path: '/graphql' };
  const verify = (headers: Record<string, string>, overrides: Partial<Parameters<typeof verifyInternalRequest>[1]> = {}) =>
    verifyInternalRequest(headers, { secret, ...request, bodyDigest: bodyDigest(body), ...overrides });

  it('should carry the identity and client address the gateway signed for this subgraph and request', () => {
    const headers = signInternalRequest({ secret, ...request, body, identity, clientAddress: '203.0.113.7' });
    expect(verify(headers)).toEqual({ identity, clientAddress: '203.0.113.7' });
    expect(verify(signInternalRequest({ secret, ...request, body }))).toEqual({ identity: null, clientAddress: null });
  });

  it('should refuse a request signed for another subgraph, another body or path, with another secret, or not signed', () => {
    const headers = signInternalRequest({ secret, ...request, body, identity, clientAddress: '203.0.113.7' });
    const refused = (fn: () => unknown) => expect(fn).toThrow(expect.objectContaining({ extensions: expect.objectContaining({ code: 'UNAUTHENTICATED' }) }));
    refused(() => verify(headers, { audience: 'orders' }));
    refused(() => verify(headers, { bodyDigest: bodyDigest('{"query":"{ users { email } }"}') }));
    refused(() => verify(headers, { path: '/graphql?x=1' }));
    refused(() => verify(headers, { secret: 'another-secret-another-secret-another' }));
    refused(() => verify({ ...headers, 'x-shop-client-address': '198.51.100.1' }));
    refused(() => verify({ ...headers, 'x-shop-identity': Buffer.from(JSON.stringify({ ...identity, roles: ['ADMIN'] })).toString('base64url') }));
    refused(() => verify({ 'x-shop-identity': headers['x-shop-identity']! }));
  });

  it('should refuse a signature past its lifetime, issued in the future, or minted to live too long', () => {
    const now = Date.now();
    const headers = signInternalRequest({ secret, ...request, body, identity, ttlSeconds: 10, now });
    expect(verify(headers, { now: now + 9_000 }).identity).toEqual(identity);
    expect(() => verify(headers, { now: now + 10_000 + 6_000 })).toThrow(/expired/);
    expect(() => verify(signInternalRequest({ secret, ...request, body, now: now + 60_000 }), { now })).toThrow(/future/);
    expect(() => verify(signInternalRequest({ secret, ...request, body, ttlSeconds: 3600, now }), { now })).toThrow(/too long/);
  });

  it('should refuse the identity of a revoked session or an expired token', () => {
    const headers = signInternalRequest({ secret, ...request, body, identity });
    expect(() => verify(headers, { isRevoked: (sid) => sid === identity.sessionId })).toThrow(/signed out/);
    const stale = signInternalRequest({ secret, ...request, body, identity: { ...identity, exp: Math.floor(Date.now() / 1000) - 1 } });
    expect(() => verify(stale)).toThrow(/expired/);
  });
});
