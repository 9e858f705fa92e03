import { describe, expect, it } from 'vitest';
import {
  AFTER_EVALUATION_ADVICE,
  Catalog,
  defaultCatalog,
  epochsForDuration,
  LICENCE_NAMES,
  privateLinkRegionProblem,
} from '../../../shared/catalog';
import { loadSettings, SettingsError } from '../../../shared/config/settings';
import {
  continuedPretrainingFileSizeIssue,
  renderValidationMarkdown,
  type ValidationReport,
  validateDataset,
} from '../../../shared/datasets';
import { describeEvent, renderSlackMessage, renderTeamsMessage } from '../../../shared/notify';
import { EVENTS, runRecord } from '../notify/events';
import { chatRow, jsonl, LLAMA, MISTRAL, memoryFile } from './helpers';

/** The rules of the service's page (docs/validation.md "The page's rules"), each with a failing input. */

const rows = (n: number, from = 0) => Array.from({ length: n }, (_, i) => chatRow(from + i));

async function chat(opts: {
  train: unknown[];
  eval?: unknown[];
  model?: string;
  contextLength?: number;
  epochs?: number;
  trainingDuration?: string;
}): Promise<ValidationReport> {
  return validateDataset({
    model: opts.model ?? LLAMA,
    task: 'chat',
    contextLength: opts.contextLength,
    epochs: opts.epochs,
    trainingDuration: opts.trainingDuration,
    files: [
      memoryFile('train.jsonl', jsonl(opts.train)),
      ...(opts.eval ? [{ ...memoryFile('eval.jsonl', jsonl(opts.eval)), role: 'eval' as const }] : []),
    ],
  });
}

const codes = (issues: { code: string }[]) => issues.map((i) => i.code);

describe('token minimum: error below one context length of the run, warning below the model’s, train tokens only', () => {
  it('eval tokens do not count towards the minimum', async () => {
    const trainOnly = await chat({ train: rows(2), contextLength: 64 });
    const trainTokens = trainOnly.tokens.total;
    expect(trainTokens).toBeLessThan(64 * 4);
    // Train alone is below the run's context length; train + eval would be above it.
    const contextLength = trainTokens + 10;
    const report = await chat({ train: rows(2), eval: rows(20, 100), contextLength });
    expect(report.tokens.total).toBeGreaterThan(contextLength);
    expect(report.trainTokens).toBe(trainTokens);
    expect(codes(report.errors)).toContain('insufficient_tokens');
    expect(report.errors.find((e) => e.code === 'insufficient_tokens')?.message).toContain(`(${contextLength})`);
  });

  it('at or above the run’s context length but below the model’s full context length: the page’s warning', async () => {
    const report = await chat({ train: rows(4), contextLength: 32 });
    expect(report.ok).toBe(true);
    const warning = report.warnings.find((w) => w.code === 'below_recommended_tokens');
    expect(warning?.message).toContain('at least one full context length of tokens for the model');
    expect(warning?.message).toContain(`131072 for ${LLAMA}`);
  });

  it('Mistral-7B: the page’s 32768', async () => {
    const report = await chat({ model: MISTRAL, train: rows(4), contextLength: 32 });
    expect(report.warnings.find((w) => w.code === 'below_recommended_tokens')?.message).toContain('32768');
  });

  it('no warning once the training data fills the model’s context length', async () => {
    const llama = defaultCatalog.find(LLAMA);
    if (!llama) throw new Error('seed lost Llama 3.1 8B Instruct');
    const catalog = new Catalog([{ ...llama, maxContextLength: 64 }]);
    const report = await validateDataset({
      model: LLAMA,
      task: 'chat',
      catalog,
      files: [memoryFile('train.jsonl', jsonl(rows(10)))],
    });
    expect(report.tokens.total).toBeGreaterThanOrEqual(64);
    expect(codes(report.warnings)).not.toContain('below_recommended_tokens');
    expect(report.ok).toBe(true);
  });
});

describe('epochs from trainingDuration', () => {
  it('"10ep" warns epochs_outside_recommended and bills 10 × training tokens', async () => {
    const report = await chat({ train: rows(6), contextLength: 16, trainingDuration: '10ep' });
    expect(report.epochs).toBe(10);
    expect(report.epochsBasis).toBe('trainingDuration');
    expect(report.warnings.find((w) => w.code === 'epochs_outside_recommended')?.message).toContain('10ep');
    expect(report.estimatedBillableTokens).toBe(10 * report.tokens.total);
  });

  it('"3ep" is within 1–4: no warning', async () => {
    const report = await chat({ train: rows(6), contextLength: 16, trainingDuration: '3ep' });
    expect(codes(report.warnings)).not.toContain('epochs_outside_recommended');
    expect(report.estimatedBillableTokens).toBe(3 * report.tokens.total);
  });

  it('"Ntok" converts through the training tokens: N / trainTokens epochs, N billed', async () => {
    const probe = await chat({ train: rows(6), contextLength: 16 });
    const t = probe.trainTokens ?? 0;
    const report = await chat({ train: rows(6), contextLength: 16, trainingDuration: `${t * 8}tok` });
    expect(report.epochs).toBe(8);
    expect(report.estimatedBillableTokens).toBe(t * 8);
    expect(codes(report.warnings)).toContain('epochs_outside_recommended');
    const fine = await chat({ train: rows(6), contextLength: 16, trainingDuration: `${t * 2}tok` });
    expect(fine.epochs).toBe(2);
    expect(codes(fine.warnings)).not.toContain('epochs_outside_recommended');
  });

  it('"Nba" cannot be converted: no epochs warning, the report says so', async () => {
    const report = await chat({ train: rows(6), contextLength: 16, trainingDuration: '5000ba' });
    expect(report.epochsBasis).toBe('batches');
    expect(codes(report.warnings)).not.toContain('epochs_outside_recommended');
    expect(renderValidationMarkdown(report)).toContain('counts batches');
  });

  it('evaluation data is validated but not billed', async () => {
    const report = await chat({ train: rows(6), eval: rows(6, 50), contextLength: 16, trainingDuration: '2ep' });
    expect(report.tokens.total).toBeGreaterThan(report.trainTokens ?? 0);
    expect(report.estimatedBillableTokens).toBe(2 * (report.trainTokens ?? 0));
  });

  it('epochsForDuration', () => {
    expect(epochsForDuration('3ep', 100)).toBe(3);
    expect(epochsForDuration('250tok', 100)).toBe(2.5);
    expect(epochsForDuration('250tok', 0)).toBeUndefined();
    expect(epochsForDuration('500ba', 100)).toBeUndefined();
    expect(epochsForDuration('3 epochs', 100)).toBeUndefined();
  });
});

describe('continued-pretraining file sizes are decimal MB', () => {
  it('61,000,000 bytes is 61 MB: inside 60–256 MB', () => {
    expect(continuedPretrainingFileSizeIssue(61_000_000)).toBeUndefined();
    expect(continuedPretrainingFileSizeIssue(256_000_000)).toBeUndefined();
  });

  it('59,000,000 bytes is told it is 59 MB; 257,000,000 is 257 MB; 1.1 GB is slow', () => {
    expect(continuedPretrainingFileSizeIssue(59_000_000)).toMatch(/^59 MB: files are best 60–256 MB/);
    expect(continuedPretrainingFileSizeIssue(257_000_000)).toMatch(/^257 MB/);
    expect(continuedPretrainingFileSizeIssue(1_100_000_000)).toMatch(/^1100 MB: files over 1 GB/);
  });

  it('the validator reports it per file', async () => {
    const report = await validateDataset({
      model: LLAMA,
      task: 'continued_pretraining',
      files: [memoryFile('a.txt', 'Some text.\n'.repeat(1000))],
    });
    expect(report.warnings.find((w) => w.code === 'file_size_outside_recommended')).toMatchObject({
      file: 'a.txt',
      message: '0 MB: files are best 60–256 MB',
    });
  });
});

describe('licences as the page names them', () => {
  it('names and sentences', () => {
    expect(LICENCE_NAMES['Llama 3']).toBe('LLAMA 3 Community License');
    const dbrx = defaultCatalog.licenceNote(defaultCatalog.find('databricks/dbrx-instruct')!);
    expect(dbrx).toContain('Databricks Open Model License');
    expect(dbrx).toContain('including the Databricks Acceptable Use policy');
    for (const m of defaultCatalog.models.filter((x) => x.family.startsWith('llama') || x.family === 'codellama')) {
      expect(defaultCatalog.licenceNote(m)).toMatch(/Customers are responsible for ensuring/);
      expect(defaultCatalog.licenceNote(m)).toContain(LICENCE_NAMES[m.licence]);
    }
  });
});

describe('after-evaluation advice', () => {
  it('is in the report and its markdown', async () => {
    const report = await chat({ train: rows(4), contextLength: 16 });
    expect(report.advice).toBe(AFTER_EVALUATION_ADVICE);
    expect(renderValidationMarkdown(report)).toContain('one to two more epochs');
  });

  it('is in the run.completed and model.registered notices, Teams and Slack; not in others', () => {
    for (const event of [EVENTS.completed, EVENTS.registered]) {
      const notice = describeEvent(event, runRecord());
      expect(notice.advice).toBe(AFTER_EVALUATION_ADVICE);
      expect(JSON.stringify(renderTeamsMessage(notice))).toContain('reducing the number of training epochs');
      expect(JSON.stringify(renderSlackMessage(notice))).toContain('reducing the number of training epochs');
    }
    expect(describeEvent(EVENTS.failed, runRecord()).advice).toBeUndefined();
    expect(describeEvent(EVENTS.rejected, runRecord()).advice).toBeUndefined();
  });
});

describe('Private Link: storage over Private Link only in eastus2', () => {
  const base = {
    AzureWebJobsStorage: 'UseDevelopmentStorage=true',
    DATABRICKS_HOST: 'https://adb-1.2.azuredatabricks.net',
  };

  it('refused at startup outside eastus2, or without a region', () => {
    expect(() => loadSettings({ ...base, DATABRICKS_REGION: 'eastus', TUNEDROP_STORAGE_PRIVATE_LINK: 'true' })).toThrow(
      SettingsError,
    );
    expect(() => loadSettings({ ...base, TUNEDROP_STORAGE_PRIVATE_LINK: 'true' })).toThrow(/DATABRICKS_REGION/);
    expect(() => loadSettings({ ...base, TUNEDROP_STORAGE_PRIVATE_LINK: 'yes' })).toThrow(/true or false/);
  });

  it('accepted in eastus2, and off by default', () => {
    expect(
      loadSettings({ ...base, DATABRICKS_REGION: 'East US 2', TUNEDROP_STORAGE_PRIVATE_LINK: 'true' })
        .storagePrivateLink,
    ).toBe(true);
    expect(loadSettings({ ...base, DATABRICKS_REGION: 'eastus' }).storagePrivateLink).toBe(false);
    expect(privateLinkRegionProblem(true, 'westus')).toContain('eastus2');
    expect(privateLinkRegionProblem(false, 'westus')).toBeUndefined();
  });
});
