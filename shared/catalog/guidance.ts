/** The provider's published guidance, as numbers the validator and reports use. */
export const GUIDANCE = {
  recommendedEpochs: { min: 1, max: 4 },
  /** Continued pretraining should have at least this many tokens (warning below it). */
  continuedPretrainingMinTokens: 1_500_000,
  /** Datasets of this many tokens or more are not supported (error). */
  maxDatasetTokens: 10_000_000_000,
  /** Continued-pretraining files are best between these sizes (bytes). */
  continuedPretrainingFileBytes: { min: 60 * 1024 * 1024, max: 256 * 1024 * 1024 },
  /** Files over this size process slowly (bytes). */
  slowFileBytes: 1024 * 1024 * 1024,
  defaultEpochs: 1,
} as const;
