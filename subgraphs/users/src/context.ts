import DataLoader from 'dataloader';
import type { RequestContext } from '@shop/platform';
import type { UserRow } from './persistence/entities';
import { UsersRepository } from './persistence/users.repository';

export interface UsersContext extends RequestContext {
  readonly repo: UsersRepository;
  readonly loaders: { readonly user: DataLoader<string, UserRow | null> };
}

export function createContext(base: RequestContext): UsersContext {
  const repo = new UsersRepository(base.deps.dataSource);
  return { ...base, repo, loaders: { user: new DataLoader((ids) => repo.findByIds(ids)) } };
}
