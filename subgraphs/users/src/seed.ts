import { randomBytes } from 'node:crypto';
import { UserRegistered } from '@shop/events';
import type { ServiceDeps } from '@shop/platform';
import { hashPassword } from './password';

/**
 * Creates the admin account when no admin exists. Credentials come from ADMIN_EMAIL and
 * ADMIN_PASSWORD; without ADMIN_PASSWORD a random one is generated and printed once, here.
 */
export async function seedAdmin(deps: ServiceDeps): Promise<void> {
  const email = (process.env['ADMIN_EMAIL'] ?? 'admin@shop.local').toLowerCase();
  const given = process.env['ADMIN_PASSWORD'];
  const [{ count }] = (await deps.dataSource.query("SELECT count(*)::int AS count FROM app_user WHERE 'ADMIN' = ANY(roles)")) as [{ count: number }];
  if (count > 0) return;
  const password = given ?? randomBytes(12).toString('base64url');
  const hash = await hashPassword(password);
  await deps.transaction(async (tx) => {
    const [row] = (await tx.query(
      `INSERT INTO app_user (email, username, password_hash, roles) VALUES ($1, 'admin', $2, '{ADMIN,CUSTOMER}')
       ON CONFLICT DO NOTHING RETURNING id, created_at`,
      [email, hash],
    )) as Array<{ id: string; created_at: Date }>;
    if (row) await deps.outbox.add(tx, UserRegistered, row.id, { userId: row.id, email, username: 'admin', createdAt: row.created_at.toISOString() });
  });
  if (!given) {
    // Printed once, on purpose, to the terminal of whoever started the shop; never logged as JSON.
    process.stdout.write(`\n  Admin account created: ${email} / ${password}\n  (set ADMIN_EMAIL and ADMIN_PASSWORD to choose them)\n\n`);
  }
}
