/** Names at rest: new rows hold envelopes only; rows written before issue 20 are encrypted by the backfill. */
import { randomBytes, randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { createDataSource, PiiCipher, PlatformOutboxInbox1700000000000 } from '@shop/platform';
import { createTestDatabase } from '@shop/platform/testing';
import type { TestDatabase } from '@shop/platform/testing';
import { usersService } from '../src/service';
import { UserEntity } from '../src/persistence/entities';
import { UsersRepository } from '../src/persistence/users.repository';

describe('names at rest', () => {
  let db: TestDatabase;
  let ds: DataSource;
  const cipher = new PiiCipher(`test:${randomBytes(32).toString('base64')}`);
  beforeAll(async () => {
    db = await createTestDatabase('users_names');
    ds = createDataSource({ url: db.url, name: 'users-names-test', entities: [UserEntity], migrations: [PlatformOutboxInbox1700000000000, ...usersService.migrations] });
    await ds.initialize();
    await ds.runMigrations();
  });
  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  it('should store new names encrypted and encrypt names left in plaintext by older versions', async () => {
    const repo = new UsersRepository(ds, cipher);
    const fresh = await repo.insert({ email: 'grace@example.com', username: 'grace', passwordHash: 'x', firstName: 'Grace', lastName: 'Hopper', phone: null });
    const legacyId = randomUUID();
    await ds.query("INSERT INTO app_user (id, email, username, password_hash, first_name, last_name) VALUES ($1, 'ada@example.com', 'ada', 'x', 'Ada', 'Lovelace')", [legacyId]);

    expect(await repo.encryptLegacyNames(100)).toBe(1);
    expect(await repo.encryptLegacyNames(100)).toBe(0);
    const raw = (await ds.query('SELECT first_name, last_name, first_name_enc, last_name_enc FROM app_user ORDER BY email')) as Array<Record<string, string | null>>;
    expect(raw.map((r) => [r['first_name'], r['last_name']])).toEqual([[null, null], [null, null]]);
    expect(JSON.stringify(raw)).not.toMatch(/Ada|Lovelace|Grace|Hopper/);
    const [ada, grace] = await repo.findByIds([legacyId, fresh.id]);
    expect([ada!.firstName, ada!.lastName, grace!.firstName, grace!.lastName]).toEqual(['Ada', 'Lovelace', 'Grace', 'Hopper']);
    // A profile change writes ciphertext too.
    await repo.updateProfile(legacyId, { lastName: 'King' });
    expect((await repo.findByIds([legacyId]))[0]!.lastName).toBe('King');
    expect(JSON.stringify(await ds.query('SELECT * FROM app_user WHERE id = $1', [legacyId]))).not.toContain('King');
  });
});
