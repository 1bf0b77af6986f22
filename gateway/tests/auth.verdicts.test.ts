/**
 * The gateway's access-token verifier: a token users issued is accepted (the synchronous check),
 * and every token jose would refuse is refused with the same verdict (expired or invalid), whether
 * it is signed with another key or algorithm, tampered with, for another issuer or audience, not
 * yet valid, or carrying a critical header; a revoked session is refused too.
 */
import { createHmac, createSecretKey } from 'node:crypto';
import { SignJWT } from 'jose';
import { AccessTokenIssuer, TOKEN_AUDIENCE, TOKEN_ISSUER } from '@shop/platform';
import { jwtVerifier } from '../src/auth';

const SECRET = 'auth-test-secret-of-a-sensible-length-0123456789';
const key = createSecretKey(Buffer.from(SECRET, 'utf8'));
const now = () => Math.floor(Date.now() / 1000);

function token(options: { header?: Record<string, unknown>; claims?: Record<string, unknown>; secret?: string } = {}): Promise<string> {
  const claims = { roles: ['CUSTOMER'], sid: 's-1', sub: 'u-1', iss: TOKEN_ISSUER, aud: TOKEN_AUDIENCE, iat: now(), exp: now() + 600, ...options.claims };
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT', ...options.header } as never).sign(options.secret ? createSecretKey(Buffer.from(options.secret, 'utf8')) : key);
}

/** A token signed by hand (headers jose will not sign, such as an unknown `crit`). */
function rawToken(header: Record<string, unknown>, claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const signed = `${part(header)}.${part(claims)}`;
  return `${signed}.${createHmac('sha256', SECRET).update(signed).digest('base64url')}`;
}

async function verdict(jwt: string, revoked: readonly string[] = []): Promise<string> {
  try {
    const identity = await jwtVerifier(SECRET, { isRevoked: (sid) => revoked.includes(sid) }).verify(jwt);
    return `valid ${identity.userId} ${identity.roles.join(',')} ${identity.sessionId}`;
  } catch (error) {
    const e = error as { message: string; extensions?: { code?: string } };
    return `${e.extensions?.code ?? 'thrown'}: ${e.message}`;
  }
}

describe('jwtVerifier', () => {
  it('should accept a token users issued, and one with the audience in a list', async () => {
    const issued = await new AccessTokenIssuer(SECRET, 900).issue({ userId: 'u-7', roles: ['CUSTOMER', 'ADMIN'], sessionId: 's-7' });
    expect(await verdict(issued.token)).toBe('valid u-7 CUSTOMER,ADMIN s-7');
    expect(await verdict(await token({ claims: { aud: ['other', TOKEN_AUDIENCE] } }))).toBe('valid u-1 CUSTOMER s-1');
  });

  it('should refuse an expired token as expired and a revoked session as signed out', async () => {
    expect(await verdict(await token({ claims: { iat: now() - 700, exp: now() - 100 } }))).toBe('UNAUTHENTICATED: Your session has expired.');
    expect(await verdict(await token(), ['s-1'])).toBe('UNAUTHENTICATED: This session was signed out. Please sign in again.');
  });

  it('should refuse what jose refuses: another key, another algorithm, a tampered claim, another issuer or audience, nbf ahead, a crit header', async () => {
    const invalid = 'UNAUTHENTICATED: Invalid access token.';
    expect(await verdict(await token({ secret: `${SECRET}-other` }))).toBe(invalid);
    expect(await verdict(await token({ header: { alg: 'HS512' } }))).toBe(invalid);
    const [h, p, s] = (await token()).split('.') as [string, string, string];
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString('utf8')), roles: ['ADMIN'] })).toString('base64url');
    expect(await verdict(`${h}.${forged}.${s}`)).toBe(invalid);
    expect(await verdict(`${h}.${p}.${s.slice(0, -2)}`)).toBe(invalid);
    expect(await verdict(`${h}.${p}`)).toBe(invalid);
    expect(await verdict(await token({ claims: { iss: 'someone-else' } }))).toBe(invalid);
    expect(await verdict(await token({ claims: { aud: 'another-audience' } }))).toBe(invalid);
    expect(await verdict(await token({ claims: { nbf: now() + 120 } }))).toBe(invalid);
    const claims = { roles: ['CUSTOMER'], sid: 's-1', sub: 'u-1', iss: TOKEN_ISSUER, aud: TOKEN_AUDIENCE, iat: now(), exp: now() + 600 };
    // Signed by hand with the right key: the plain one is valid, the one with a critical extension is not.
    expect(await verdict(rawToken({ alg: 'HS256' }, claims))).toBe('valid u-1 CUSTOMER s-1');
    expect(await verdict(rawToken({ alg: 'HS256', crit: ['x-shop'], 'x-shop': 1 }, claims))).toBe(invalid);
    expect(await verdict(rawToken({ alg: 'none' }, claims))).toBe(invalid);
    expect(await verdict(rawToken({ alg: 'HS256' }, { ...claims, exp: String(now() + 600) }))).toBe(invalid);
    expect(await verdict(await token({ claims: { sub: undefined } }))).toBe(invalid);
  });
});
