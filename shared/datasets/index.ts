/**
 * Dataset validation: the public API the intake function and the CLI use.
 * See docs/validation.md for the rules, codes and measured performance.
 */
export {
  ERROR_CODE_LIST,
  ERROR_CODES,
  type ErrorCode,
  type IssueCode,
  WARNING_CODE_LIST,
  WARNING_CODES,
  type WarningCode,
} from './codes';
export { type DatasetFile, localDatasetFiles } from './files';
export { type ReportIssue, renderValidationMarkdown, type ValidationReport, validationReportSchema } from './report';
export {
  fileDigest,
  mergeShards,
  planShards,
  type ShardedValidationOptions,
  type ShardPlan,
  type ShardResult,
  validateDatasetSharded,
  validateShard,
} from './shards';
export { type CountedExample, createExampleCounter, type TemplateSpec, templateFor } from './templates';
export { COUNTED_TOKENIZERS, loadTokenCounter, type TokenCounter } from './tokenizers';
export {
  continuedPretrainingFileSizeIssue,
  DatasetReadError,
  datasetTokenIssues,
  type EpochsBasis,
  type PreparedValidation,
  prepareValidation,
  type ValidateDatasetInput,
  ValidationInputError,
  validateDataset,
} from './validate';
