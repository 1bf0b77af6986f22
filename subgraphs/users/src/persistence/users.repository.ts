import { In } from 'typeorm';
import type { DataSource } from 'typeorm';
import type { UserRow } from './entities';
import { UserEntity } from './entities';

export class UsersRepository {
  constructor(private readonly ds: DataSource) {}

  async findByIds(ids: readonly string[]): Promise<Array<UserRow | null>> {
    const valid = ids.filter((id) => /^[0-9a-f-]{36}$/i.test(id));
    const rows = valid.length ? await this.ds.getRepository(UserEntity).findBy({ id: In(valid) }) : [];
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.map((id) => byId.get(id) ?? null);
  }
}
