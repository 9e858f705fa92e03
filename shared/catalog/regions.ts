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

/**
 * The page's Private Link rule: storage reached over Private Link is read by the service only in
 * eastus2. Undefined when the setting is off or the region allows it; otherwise the refusal message.
 */
export function privateLinkRegionProblem(privateLink: boolean, region: string | undefined): string | undefined {
  if (!privateLink) return undefined;
  const allowed = PRIVATE_LINK_REGIONS.join(', ');
  if (!region) {
    return `storage over Private Link needs the workspace region (DATABRICKS_REGION): the service reads Private Link storage only in ${allowed}`;
  }
  if ((PRIVATE_LINK_REGIONS as readonly string[]).includes(normalizeRegion(region))) return undefined;
  return `storage over Private Link is read by Foundation Model Fine-tuning only in ${allowed}; the workspace is in "${region}"`;
}
