/**
 * Runs code after a transaction commits (never after a rollback): metrics of a state change, and
 * waking a worker once the rows it must handle are visible to other connections (the orders
 * payment worker, the users mail dispatcher).
 *
 * Event handlers get their transaction from the platform's consumer, so there is no "after" in
 * reach; a TypeORM transaction subscriber is. The platform installs it on every service's data
 * source at start.
 */
import type { DataSource, EntityManager, QueryRunner } from 'typeorm';

const pending = new WeakMap<QueryRunner, Array<() => void>>();
const installed = new WeakSet<DataSource>();

/** Registers the subscriber on `ds` (once); `startService` does it for every service. */
export function installAfterCommitHooks(ds: DataSource, onError: (error: unknown) => void): void {
  if (installed.has(ds)) return;
  installed.add(ds);
  ds.subscribers.push({
    afterTransactionCommit: ({ queryRunner }) => {
      // Releasing a savepoint also "commits": wait for the outermost transaction.
      if (queryRunner.isTransactionActive) return;
      const fns = pending.get(queryRunner);
      pending.delete(queryRunner);
      for (const fn of fns ?? []) {
        try {
          fn();
        } catch (error) {
          onError(error);
        }
      }
    },
    afterTransactionRollback: ({ queryRunner }) => {
      if (!queryRunner.isTransactionActive) pending.delete(queryRunner);
    },
  });
}

/** Runs `fn` once `tx` has committed; at once when `tx` is not in a transaction. */
export function afterCommit(tx: EntityManager, fn: () => void): void {
  const runner = tx.queryRunner;
  if (!runner?.isTransactionActive) {
    fn();
    return;
  }
  const fns = pending.get(runner) ?? [];
  fns.push(fn);
  pending.set(runner, fns);
}
