import { randomUUID } from 'node:crypto';
import { createSecretKey } from 'node:crypto';
import { SignJWT } from 'jose';
import { SessionRevoked, sessionRevocationCause } from '@shop/events';
import { createEnvelope, createLogger, InProcessBus, signClientAddress, TOKEN_AUDIENCE, TOKEN_ISSUER, verifyClientAddress } from '@shop/platform';
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
});

describe('the client address header', () => {
  it('should be trusted only with the signature of the internal secret', () => {
    const headers = signClientAddress('203.0.113.7', 'internal-secret');
    expect(verifyClientAddress(headers, 'internal-secret')).toBe('203.0.113.7');
    expect(verifyClientAddress(headers, 'another-secret')).toBeNull();
    expect(verifyClientAddress({ ...headers, 'x-shop-client-address': '198.51.100.1' }, 'internal-secret')).toBeNull();
    expect(verifyClientAddress({ 'x-shop-client-address': '198.51.100.1' }, 'internal-secret')).toBeNull();
  });
});

