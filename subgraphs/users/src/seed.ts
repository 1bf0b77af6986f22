import { randomBytes } from 'node:crypto';
import { UserRegisteredV2 } from '@shop/events';
import { DuplicateAccountError } from './persistence/users.repository';
import { hashPassword } from './security/password';
import type { UsersParts } from './setup';

/**
 * Creates the admin account when no admin exists. Credentials come from ADMIN_EMAIL (default
 * admin@shop.local) and ADMIN_PASSWORD; without ADMIN_PASSWORD a random one is generated and
 * printed once, here.
 */
export async function seedAdmin({ settings, store }: UsersParts): Promise<void> {
  if (await store.reads.anyAdmin()) return;
  const email = settings.ADMIN_EMAIL.trim().toLowerCase();
  const given = settings.ADMIN_PASSWORD;
  const password = given ?? randomBytes(12).toString('base64url');
  const passwordHash = await hashPassword(password);
  try {
    await store.run(async (uow) => {
      const user = await uow.users.insert({ email, username: 'admin', passwordHash, firstName: null, lastName: null, phone: null, roles: ['CUSTOMER', 'ADMIN'] });
      await uow.publish(UserRegisteredV2, user.id, { userId: user.id, createdAt: user.createdAt.toISOString() });
    });
  } catch (error) {
    if (error instanceof DuplicateAccountError) return; // another replica seeded at the same moment
    throw error;
  }
  if (!given) {
    // Printed once, on purpose, to the terminal of whoever started the shop; never logged as JSON.
    process.stdout.write(`\n  Admin account created: ${email} / ${password}\n  (set ADMIN_EMAIL and ADMIN_PASSWORD to choose them)\n\n`);
  }
}
