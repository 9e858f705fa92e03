import { z } from 'zod';

/**
 * The catalog's last good copy from the provider (getFinetuneConstants), as kept in storage
 * (`config/catalog/provider-models.json`). The seed table stays the fallback when there is none.
 */
export const storedCatalogSchema = z.object({
  version: z.literal(1),
  provider: z.string().min(1),
  refreshedAt: z.iso.datetime({ offset: true }),
  models: z
    .array(z.object({ name: z.string().min(1), maxContextLength: z.number().int().positive() }))
    .min(1, 'a refresh that reports no models is not kept'),
});

export type StoredCatalog = z.infer<typeof storedCatalogSchema>;

export interface CatalogDiff {
  added: string[];
  removed: string[];
  contextLengthChanged: { model: string; from: number; to: number }[];
}

/** What changed between two provider lists (names compared case-insensitively, reported as the provider spells them). */
export function diffProviderModels(
  previous: readonly { name: string; maxContextLength: number }[],
  next: readonly { name: string; maxContextLength: number }[],
): CatalogDiff {
  const before = new Map(previous.map((m) => [m.name.toLowerCase(), m]));
  const after = new Map(next.map((m) => [m.name.toLowerCase(), m]));
  const added = [...after.entries()].filter(([k]) => !before.has(k)).map(([, m]) => m.name);
  const removed = [...before.entries()].filter(([k]) => !after.has(k)).map(([, m]) => m.name);
  const contextLengthChanged = [...after.entries()].flatMap(([k, m]) => {
    const old = before.get(k);
    return old && old.maxContextLength !== m.maxContextLength
      ? [{ model: m.name, from: old.maxContextLength, to: m.maxContextLength }]
      : [];
  });
  const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return {
    added: added.sort(byName),
    removed: removed.sort(byName),
    contextLengthChanged: contextLengthChanged.sort((a, b) => byName(a.model, b.model)),
  };
}

export function isEmptyDiff(diff: CatalogDiff): boolean {
  return diff.added.length === 0 && diff.removed.length === 0 && diff.contextLengthChanged.length === 0;
}
