import { RestError, type TableClient } from '@azure/data-tables';

const ensured = new WeakMap<TableClient, Promise<void>>();

/**
 * The table exists: created unless it is there already (409), once per client per process. A
 * failed attempt is forgotten, so the next call tries again.
 */
export function ensureTable(table: TableClient): Promise<void> {
  let pending = ensured.get(table);
  if (!pending) {
    pending = table.createTable().then(
      () => undefined,
      (err: unknown) => {
        if (err instanceof RestError && err.statusCode === 409) return;
        ensured.delete(table);
        throw err;
      },
    );
    ensured.set(table, pending);
  }
  return pending;
}
