import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ERROR_CODE_LIST,
  renderValidationMarkdown,
  type ValidationReport,
  validationReportSchema,
  WARNING_CODE_LIST,
} from '../../../shared/datasets';
import { TokenHistogram } from '../../../shared/datasets/stats';

const DESIGN_ERRORS =
  'invalid_utf8 invalid_json not_object unknown_key missing_messages too_few_messages invalid_message invalid_role content_not_string empty_content system_not_first system_not_supported consecutive_roles last_not_assistant missing_prompt missing_response empty_text empty_file wrong_extension model_not_supported model_retired context_length_too_large region_not_supported too_many_tokens insufficient_tokens'.split(
    ' ',
  );
const DESIGN_WARNINGS =
  'exceeds_context_length no_trainable_tokens below_recommended_tokens epochs_outside_recommended duplicate_examples file_size_outside_recommended'.split(
    ' ',
  );

describe('codes', () => {
  it('include every code in shared/DESIGN.md', () => {
    // The design's codes first, in its order; provider-specific codes (Azure OpenAI) follow.
    expect(ERROR_CODE_LIST.slice(0, DESIGN_ERRORS.length)).toEqual(DESIGN_ERRORS);
    expect(WARNING_CODE_LIST).toEqual(expect.arrayContaining(DESIGN_WARNINGS));
  });

  it('are all documented in docs/validation.md', () => {
    const doc = readFileSync(join(__dirname, '../../../docs/validation.md'), 'utf8');
    for (const code of [...ERROR_CODE_LIST, ...WARNING_CODE_LIST]) {
      expect(doc).toMatch(new RegExp(`^\\|\\s*\`${code}\`\\s*\\|`, 'm'));
    }
  });
});

describe('report', () => {
  const report: ValidationReport = {
    ok: false,
    model: 'm',
    task: 'chat',
    files: [{ name: 'a|b.jsonl', bytes: 10, rows: 2, tokens: 5, sha256: 'a'.repeat(64) }],
    rows: 2,
    tokens: { total: 5, perExample: { min: 1, p50: 2, p95: 4, max: 4 } },
    estimatedBillableTokens: 10,
    errors: [{ code: 'invalid_json', line: 2, lines: [2], count: 1, message: 'bad | json', file: 'a|b.jsonl' }],
    warnings: [],
    errorCounts: { invalid_json: 1 },
    warningCounts: {},
    validRows: 1,
    blankLines: 0,
    epochs: 2,
    tokenizer: 'llama3',
    tokensCounted: true,
    duplicateCheck: 'complete',
    sha256: 'a'.repeat(64),
    bytes: 10,
    durationMs: 1,
  };

  it('the schema rejects unknown codes', () => {
    expect(validationReportSchema.safeParse(report).success).toBe(true);
    const bad = { ...report, errors: [{ code: 'nope', message: 'x' }] };
    expect(validationReportSchema.safeParse(bad).success).toBe(false);
  });

  it('renders Markdown with escaped table cells', () => {
    const md = renderValidationMarkdown(report);
    expect(md).toContain('❌ invalid');
    expect(md).toContain('| `invalid_json` | 1 | a\\|b.jsonl | 2 | bad \\| json |');
  });
});

describe('token histogram', () => {
  it('p50/p95 within 1% of the exact quantiles, exact min/max', () => {
    const values = Array.from({ length: 10_000 }, (_, i) => 1 + ((i * 7919) % 20_000));
    const h = new TokenHistogram();
    h.addAll(values);
    const sorted = [...values].sort((a, b) => a - b);
    const exact = (q: number) => sorted[Math.ceil(q * sorted.length) - 1] as number;
    for (const q of [0.5, 0.95]) {
      expect(h.quantile(q)).toBeLessThanOrEqual(exact(q));
      expect(h.quantile(q)).toBeGreaterThanOrEqual(exact(q) * 0.99);
    }
    expect([h.min, h.max]).toEqual([sorted[0], sorted.at(-1)]);
  });
});
