import { randomBytes } from 'node:crypto';
import argon2 from 'argon2';

/**
 * Argon2id above OWASP's recommended minimum (m = 19 MiB, t = 2, p = 1): m = 64 MiB, t = 3, p = 1.
 * About 0.2 s per hash on one core of the development machine (measured in docs/notes/users.md).
 */
const OPTIONS = { type: argon2.argon2id, memoryCost: 65_536, timeCost: 3, parallelism: 1 } as const;

/** Hashes a password (the salt is random and part of the encoded hash). Never log either. */
export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, OPTIONS);
}

/** True when `password` matches `hash`; false on any mismatch or malformed hash. */
export function verifyPassword(hash: string, password: string): Promise<boolean> {
  return argon2.verify(hash, password).catch(() => false);
}

/** True when `hash` was made with weaker parameters than today's (rehash after a successful login). */
export function needsRehash(hash: string): boolean {
  try {
    return argon2.needsRehash(hash, OPTIONS);
  } catch {
    return true;
  }
}

let dummy: Promise<string> | undefined;

/**
 * Burns the same time as a real verification when the account does not exist, so that the
 * answer time of `login` does not tell which e-mail addresses have an account.
 */
export async function verifyAgainstDummy(password: string): Promise<false> {
  dummy ??= argon2.hash(randomBytes(16).toString('hex'), OPTIONS);
  await argon2.verify(await dummy, password).catch(() => false);
  return false;
}
