import { odata, RestError, type TableClient } from '@azure/data-tables';

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

/**
 * OData filter: `team` is one of `teams` (a caller's teams, for lists limited to them). An empty
 * list matches nothing.
 */
export function teamsFilter(teams: readonly string[]): string {
  if (teams.length === 0) return "(PartitionKey eq '' and PartitionKey ne '')";
  return `(${teams.map((t) => odata`team eq ${t}`).join(' or ')})`;
}
