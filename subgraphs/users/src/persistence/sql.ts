import type { DataSource, EntityManager } from 'typeorm';

/** Anything that runs SQL: the data source (autocommit) or a transaction's manager. */
export type Db = DataSource | EntityManager;

/**
 * Runs one statement and answers its rows. TypeORM answers `[rows, rowCount]` for UPDATE and
 * DELETE (also with RETURNING) and plain rows otherwise; this evens that out.
 */
export async function rows<T>(db: Db, text: string, params: readonly unknown[] = []): Promise<T[]> {
  const result = (await db.query(text, [...params])) as unknown;
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') return result[0] as T[];
  return result as T[];
}

/** The first row, or undefined. */
export async function row<T>(db: Db, text: string, params: readonly unknown[] = []): Promise<T | undefined> {
  return (await rows<T>(db, text, params))[0];
}

/** True for a Postgres unique violation, optionally of one constraint/index. */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const e = error as { code?: string; constraint?: string; driverError?: { code?: string; constraint?: string } };
  const code = e.driverError?.code ?? e.code;
  const name = e.driverError?.constraint ?? e.constraint;
  return code === '23505' && (constraint === undefined || name === constraint);
}

export function isUuid(id: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id);
}
