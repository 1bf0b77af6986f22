import argon2 from 'argon2';

/** Argon2id with OWASP's recommended minimum (m = 19 MiB, t = 2, p = 1) raised to 64 MiB / t = 3. */
const OPTIONS = { type: argon2.argon2id, memoryCost: 65_536, timeCost: 3, parallelism: 1 } as const;

export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, OPTIONS);
}

export function verifyPassword(hash: string, password: string): Promise<boolean> {
  return argon2.verify(hash, password).catch(() => false);
}
