import { z } from 'zod';
import { taskSchema } from '../catalog';
import { ERROR_CODE_LIST, WARNING_CODE_LIST } from './codes';

/** One code's occurrences in one file: the count, the first line and the first few lines. */
export const reportIssueSchema = z.object({
  code: z.string(),
  line: z.number().int().positive().optional(),
  message: z.string(),
  count: z.number().int().positive().optional(),
  lines: z.array(z.number().int().positive()).optional(),
  file: z.string().optional(),
});

export const reportFileSchema = z.object({
  name: z.string(),
  bytes: z.number().int().nonnegative(),
  rows: z.number().int().nonnegative(),
  tokens: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});

/**
 * The validation report (shared/DESIGN.md "Validation report and CLI"). Fields after
 * `errorCounts` are additive extensions.
 */
export const validationReportSchema = z.object({
  ok: z.boolean(),
  model: z.string(),
  task: taskSchema,
  files: z.array(reportFileSchema),
  rows: z.number().int().nonnegative(),
  tokens: z.object({
    total: z.number().int().nonnegative(),
    perExample: z.object({
      min: z.number().int().nonnegative(),
      p50: z.number().int().nonnegative(),
      p95: z.number().int().nonnegative(),
      max: z.number().int().nonnegative(),
    }),
  }),
  estimatedBillableTokens: z.number().nonnegative(),
  errors: z.array(reportIssueSchema.extend({ code: z.enum(ERROR_CODE_LIST) })),
  warnings: z.array(reportIssueSchema.extend({ code: z.enum(WARNING_CODE_LIST) })),
  errorCounts: z.record(z.string(), z.number().int().positive()),
  // additive
  warningCounts: z.record(z.string(), z.number().int().positive()),
  validRows: z.number().int().nonnegative(),
  blankLines: z.number().int().nonnegative(),
  contextLength: z.number().int().positive().optional(),
  epochs: z.number().positive(),
  /**
   * How `epochs` was decided: given (`epochs`), from `trainingDuration` (`Nep`, or `Ntok` through the
   * training tokens), `batches` (`Nba`: the batch size is the service's, 1 epoch is assumed) or the default.
   */
  epochsBasis: z.enum(['epochs', 'trainingDuration', 'batches', 'default']).optional(),
  trainingDuration: z.string().optional(),
  /** Tokens of the training files only (evaluation files are validated but not trained on or billed). */
  trainTokens: z.number().int().nonnegative().optional(),
  tokenizer: z.string().nullable(),
  /** False when no exact tokenizer applies (unknown model, Llama 2 family): token figures are 0. */
  tokensCounted: z.boolean(),
  /** 'partial' past 3 million distinct rows (see docs/validation.md). */
  duplicateCheck: z.enum(['complete', 'partial']),
  /** sha256 of the data: the file's digest, or for several files the digest of their sha256sum listing. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.number().int().nonnegative(),
  licence: z.string().optional(),
  /** The page's advice for after the first evaluation of the trained model. */
  advice: z.string().optional(),
  durationMs: z.number().nonnegative(),
});

export type ValidationReport = z.infer<typeof validationReportSchema>;
export type ReportIssue = z.infer<typeof reportIssueSchema>;

function formatInt(n: number): string {
  return n.toLocaleString('en-US');
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

function issueRows(issues: ReportIssue[]): string[] {
  return [
    '| Code | Count | File | First lines | Example |',
    '| --- | ---: | --- | --- | --- |',
    ...issues.map(
      (i) =>
        `| \`${i.code}\` | ${formatInt(i.count ?? 1)} | ${cell(i.file ?? '')} | ${(i.lines ?? (i.line ? [i.line] : [])).join(', ')} | ${cell(i.message)} |`,
    ),
  ];
}

function formatEpochs(report: ValidationReport): string {
  const epochs = Number.isInteger(report.epochs) ? String(report.epochs) : report.epochs.toFixed(2);
  if (report.epochsBasis === 'trainingDuration') return `${epochs} (trainingDuration ${report.trainingDuration})`;
  if (report.epochsBasis === 'batches') {
    return `unknown: trainingDuration ${report.trainingDuration} counts batches, whose size the service decides; estimates assume 1`;
  }
  return epochs;
}

/** The same report, for humans (blob reports/…/validation.md, CLI without --json). */
export function renderValidationMarkdown(report: ValidationReport): string {
  const t = report.tokens;
  const lines = [
    `# Dataset validation: ${report.ok ? '✅ valid' : '❌ invalid'}`,
    '',
    `- Model: \`${report.model}\` (tokenizer: ${report.tokenizer ?? 'none — tokens not counted'})`,
    `- Task: ${report.task}`,
    `- Files: ${report.files.map((f) => `${f.name} (${formatInt(f.bytes)} bytes)`).join(', ') || 'none'}`,
    `- Rows: ${formatInt(report.rows)} (${formatInt(report.validRows)} valid)`,
    `- Tokens: ${formatInt(t.total)} total; per example min ${formatInt(t.perExample.min)}, p50 ${formatInt(t.perExample.p50)}, p95 ${formatInt(t.perExample.p95)}, max ${formatInt(t.perExample.max)}`,
    `- Context length: ${report.contextLength ? formatInt(report.contextLength) : 'n/a'}; epochs: ${formatEpochs(report)}`,
    `- Estimated billable tokens: ${formatInt(report.estimatedBillableTokens)}${report.trainTokens !== undefined && report.trainTokens !== report.tokens.total ? ` (training tokens ${formatInt(report.trainTokens)} × epochs; evaluation data is not billed)` : ''}`,
    `- sha256: \`${report.sha256}\``,
  ];
  if (report.errors.length > 0) lines.push('', '## Errors', '', ...issueRows(report.errors));
  if (report.warnings.length > 0) lines.push('', '## Warnings', '', ...issueRows(report.warnings));
  if (report.licence) lines.push('', '## Licence', '', report.licence);
  if (report.advice) lines.push('', '## After evaluation', '', report.advice);
  return `${lines.join('\n')}\n`;
}
