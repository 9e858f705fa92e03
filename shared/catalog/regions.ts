/** Azure regions where the Databricks Foundation Model Fine-tuning service runs. */
export const SUPPORTED_REGIONS = ['centralus', 'eastus', 'eastus2', 'northcentralus', 'westus'] as const;
export type SupportedRegion = (typeof SUPPORTED_REGIONS)[number];

/** Reading training data behind Private Link works in these regions only. */
export const PRIVATE_LINK_REGIONS: readonly SupportedRegion[] = ['eastus2'];

export function normalizeRegion(region: string): string {
  return region.toLowerCase().replace(/[\s-]/g, '');
}

export function isSupportedRegion(region: string): region is SupportedRegion {
  return (SUPPORTED_REGIONS as readonly string[]).includes(normalizeRegion(region));
}
