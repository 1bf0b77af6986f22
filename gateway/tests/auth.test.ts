import { createHmac, createSecretKey } from 'node:crypto';
import { jwtVerify } from 'jose';
import { TOKEN_AUDIENCE, TOKEN_ISSUER } from '@shop/platform';
import { jwtVerifier, RejectedToken, verifyHs256 } from '../src/auth';

const secret = 'k'.repeat(43);
const key = createSecretKey(Buffer.from(secret, 'utf8'));
const b64 = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const hmac = (input: string, withSecret = secret): string => createHmac('sha256', withSecret).update(input).digest('base64url');
/** A compact JWT of exactly these header and claims, signed with HMAC-SHA256 (whatever `alg` says). */
const token = (header: unknown, claims: unknown, withSecret = secret): string => {
  const input = `${b64(header)}.${b64(claims)}`;
  return `${input}.${hmac(input, withSecret)}`;
};

type Outcome = 'valid' | 'expired' | 'invalid';

async function joseSays(jwt: string): Promise<Outcome> {
  try {
    await jwtVerify(jwt, key, { issuer: TOKEN_ISSUER, audience: TOKEN_AUDIENCE, algorithms: ['HS256'], requiredClaims: ['iat', 'exp', 'sub'] });
    return 'valid';
  } catch (error) {
    return (error as { code?: string }).code === 'ERR_JWT_EXPIRED' ? 'expired' : 'invalid';
  }
}

function oursSays(jwt: string): Outcome {
  try {
    verifyHs256(jwt, key, TOKEN_ISSUER, TOKEN_AUDIENCE);
    return 'valid';
  } catch (error) {
    if (!(error instanceof RejectedToken)) throw error;
    return error.outcome === 'expired' ? 'expired' : 'invalid';
  }
}

describe('HS256 access token verification (node:crypto, checked against jose)', () => {
  const now = Math.floor(Date.now() / 1000);
  const claims = { sub: 'u1', sid: 's1', roles: ['CUSTOMER'], iss: TOKEN_ISSUER, aud: TOKEN_AUDIENCE, iat: now, exp: now + 900 };
  const without = (name: string): Record<string, unknown> => Object.fromEntries(Object.entries(claims).filter(([k]) => k !== name));
  const valid = token({ alg: 'HS256', typ: 'JWT' }, claims);
  const [h, p, s] = valid.split('.') as [string, string, string];
  const corpus: Record<string, string> = {
    valid,
    'valid without typ': token({ alg: 'HS256' }, claims),
    'audience in an array': token({ alg: 'HS256' }, { ...claims, aud: ['other', TOKEN_AUDIENCE] }),
    'nbf in the past': token({ alg: 'HS256' }, { ...claims, nbf: now - 5 }),
    expired: token({ alg: 'HS256' }, { ...claims, iat: now - 1000, exp: now - 100 }),
    'expiring this second': token({ alg: 'HS256' }, { ...claims, exp: now }),
    'expired with a wrong audience': token({ alg: 'HS256' }, { ...claims, aud: 'other', exp: now - 100 }),
    'another issuer': token({ alg: 'HS256' }, { ...claims, iss: 'someone-else' }),
    'another audience': token({ alg: 'HS256' }, { ...claims, aud: 'other' }),
    'an array without our audience': token({ alg: 'HS256' }, { ...claims, aud: ['a', 'b'] }),
    'no iat': token({ alg: 'HS256' }, without('iat')),
    'no exp': token({ alg: 'HS256' }, without('exp')),
    'no sub': token({ alg: 'HS256' }, without('sub')),
    'no iss': token({ alg: 'HS256' }, without('iss')),
    'no aud': token({ alg: 'HS256' }, without('aud')),
    'iat as a string': token({ alg: 'HS256' }, { ...claims, iat: String(now) }),
    'exp as a string': token({ alg: 'HS256' }, { ...claims, exp: String(now + 900) }),
    'nbf in the future': token({ alg: 'HS256' }, { ...claims, nbf: now + 60 }),
    'nbf as a string': token({ alg: 'HS256' }, { ...claims, nbf: 'soon' }),
    'alg none, unsigned': `${b64({ alg: 'none' })}.${b64(claims)}.`,
    'alg none, signed': token({ alg: 'none' }, claims),
    'alg HS512 header': token({ alg: 'HS512' }, claims),
    'alg RS256 header': token({ alg: 'RS256' }, claims),
    'no alg': token({ typ: 'JWT' }, claims),
    'a critical extension': token({ alg: 'HS256', crit: ['exp'], exp: 1 }, claims),
    'another secret': token({ alg: 'HS256' }, claims, 'x'.repeat(43)),
    'signature of other claims': `${h}.${b64({ ...claims, roles: ['ADMIN'] })}.${s}`,
    'truncated signature': `${h}.${p}.${s.slice(0, -2)}`,
    'signature with a byte more': `${h}.${p}.${s}AA`,
    'empty signature': `${h}.${p}.`,
    'two parts': `${h}.${p}`,
    'four parts': `${valid}.${s}`,
    'non-base64url characters': `${h}.${p}.${s.slice(0, -1)}+`,
    'header not JSON': (() => {
      const input = `${b64('{alg:HS256')}.${p}`;
      return `${input}.${hmac(input)}`;
    })(),
    'payload not JSON': token({ alg: 'HS256' }, 'not json'),
    'payload an array': token({ alg: 'HS256' }, [claims]),
    'payload null': token({ alg: 'HS256' }, 'null'),
    'payload not UTF-8': (() => {
      const input = `${h}.${Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]).toString('base64url')}`;
      return `${input}.${hmac(input)}`;
    })(),
    'empty string': '',
    'dots only': '..',
  };

  it('should give the same verdict as jose on every token of the corpus', async () => {
    const verdicts = await Promise.all(Object.entries(corpus).map(async ([name, jwt]) => ({ name, jose: await joseSays(jwt), ours: oursSays(jwt) })));
    expect(verdicts.filter((v) => v.jose !== v.ours)).toEqual([]);
    // The corpus is not all one verdict: the comparison can fail.
    expect(new Set(verdicts.map((v) => v.ours))).toEqual(new Set(['valid', 'expired', 'invalid']));
    expect(verdicts.find((v) => v.name === 'valid')?.ours).toBe('valid');
  });

  it('should refuse every critical header extension, even the one jose would accept', async () => {
    const b64Crit = token({ alg: 'HS256', crit: ['b64'], b64: true }, claims);
    await expect(joseSays(b64Crit)).resolves.toBe('valid');
    expect(oursSays(b64Crit)).toBe('invalid');
  });

  it('should answer the identity of a valid token, and UNAUTHENTICATED with the reason for the others', async () => {
    const verifier = jwtVerifier(secret);
    await expect(verifier.verify(valid)).resolves.toEqual({ userId: 'u1', roles: ['CUSTOMER'], sessionId: 's1', exp: now + 900 });
    await expect(verifier.verify(corpus['expired'] ?? '')).rejects.toMatchObject({ extensions: { code: 'UNAUTHENTICATED' }, message: 'Your session has expired.' });
    await expect(verifier.verify(corpus['another secret'] ?? '')).rejects.toMatchObject({ extensions: { code: 'UNAUTHENTICATED' }, message: 'Invalid access token.' });
    // A subject that is not a string is no user id.
    await expect(verifier.verify(token({ alg: 'HS256' }, { ...claims, sub: 42 }))).rejects.toMatchObject({ extensions: { code: 'UNAUTHENTICATED' } });
  });
});
