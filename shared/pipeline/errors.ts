/**
 * Intake rejection codes: why a drop was refused before its data was validated (or alongside the
 * validator's own codes in the rejection report). Stable: documented in docs/pipeline.md.
 */
export const INTAKE_ERROR_CODES = [
  'invalid_manifest',
  'path_escapes_folder',
  'data_file_missing',
  'file_too_large',
  'team_not_configured',
  'model_not_allowed',
  'register_to_not_allowed',
  'channel_not_allowed',
  'region_not_supported',
  'intake_failed',
  /** The manifest names a training provider the team may not use. */
  'provider_not_allowed',
  /** The team's provider has no connection configured in this deployment. */
  'provider_not_configured',
  'private_link_region_not_supported',
  // Data already in Databricks (issue 14): Unity Catalog volumes and Delta tables.
  'data_location_not_allowed',
  'volume_file_missing',
  'table_not_found',
  'table_missing_column',
  'table_task_not_supported',
  'data_prep_cluster_missing',
  'cluster_not_found',
  'cluster_runtime_too_old',
  // Sharded validation (issue 16).
  /** A shard, digest or the merge failed past its retries (storage unavailable, a blob deleted mid-read…). */
  'validation_failed',
  /** A data file was replaced while it was being validated (its ETag changed between shards). */
  'data_changed',
] as const;

export type IntakeErrorCode = (typeof INTAKE_ERROR_CODES)[number];

export interface IntakeProblem {
  code: IntakeErrorCode;
  message: string;
  /** The manifest field the problem is about, when there is one. */
  field?: string;
}

export class IntakeRejection extends Error {
  constructor(readonly problems: IntakeProblem[]) {
    super(problems.map((p) => `${p.code}: ${p.message}`).join('; '));
  }
}
