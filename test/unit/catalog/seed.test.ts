import { describe, expect, it } from 'vitest';
import { Catalog, defaultCatalog, isSupportedRegion, MODEL_SEED, SUPPORTED_REGIONS } from '../../../shared/catalog';

describe('model catalog seed', () => {
  it('pins every supported model and its max context length', () => {
    const supported = Object.fromEntries(
      defaultCatalog
        .forProvider('databricks')
        .supported()
        .map((m) => [m.id, m.maxContextLength]),
    );
    expect(supported).toEqual({
      'databricks/dbrx-base': 32768,
      'databricks/dbrx-instruct': 32768,
      'meta-llama/Llama-3.2-1B': 131072,
      'meta-llama/Llama-3.2-1B-Instruct': 131072,
      'meta-llama/Llama-3.2-3B': 131072,
      'meta-llama/Llama-3.2-3B-Instruct': 131072,
      'meta-llama/Meta-Llama-3.1-405B': 131072,
      'meta-llama/Meta-Llama-3.1-405B-Instruct': 131072,
      'meta-llama/Meta-Llama-3.1-70B': 131072,
      'meta-llama/Meta-Llama-3.1-70B-Instruct': 131072,
      'meta-llama/Meta-Llama-3.1-8B': 131072,
      'meta-llama/Meta-Llama-3.1-8B-Instruct': 131072,
      'mistralai/Mistral-7B-v0.1': 32768,
      'mistralai/Mistral-7B-Instruct-v0.2': 32768,
      'mistralai/Mixtral-8x7B-v0.1': 32768,
    });
  });

  it('pins the Azure OpenAI fine-tunable models: training example context, o200k, chat only', () => {
    const azure = defaultCatalog.forProvider('azure-openai').supported();
    expect(Object.fromEntries(azure.map((m) => [m.id, m.maxContextLength]))).toEqual({
      'gpt-4o-mini-2024-07-18': 65536,
      'gpt-4o-2024-08-06': 65536,
      'gpt-4.1-2025-04-14': 65536,
      'gpt-4.1-mini-2025-04-14': 65536,
      'gpt-4.1-nano-2025-04-14': 32768,
    });
    expect(new Set(azure.map((m) => m.tokenizer))).toEqual(new Set(['o200k']));
    expect(defaultCatalog.offersTask('azure-openai', 'chat')).toBe(true);
    expect(defaultCatalog.offersTask('azure-openai', 'instruction')).toBe(false);
    expect(defaultCatalog.offersTask('azure-openai', 'continued_pretraining')).toBe(false);
    expect(defaultCatalog.offersTask('databricks', 'continued_pretraining')).toBe(true);
    expect(defaultCatalog.supported()).toHaveLength(defaultCatalog.forProvider('databricks').supported().length + 5);
  });

  it('pins the retired models, their context lengths and retirement date', () => {
    const retired = MODEL_SEED.filter((m) => m.status === 'retired');
    expect(retired.map((m) => m.id).sort()).toEqual(
      [
        'meta-llama/Meta-Llama-3-70B',
        'meta-llama/Meta-Llama-3-70B-Instruct',
        'meta-llama/Meta-Llama-3-8B',
        'meta-llama/Meta-Llama-3-8B-Instruct',
        'meta-llama/Llama-2-7b-hf',
        'meta-llama/Llama-2-13b-hf',
        'meta-llama/Llama-2-70b-hf',
        'meta-llama/Llama-2-7b-chat-hf',
        'meta-llama/Llama-2-13b-chat-hf',
        'meta-llama/Llama-2-70b-chat-hf',
        ...['7b', '13b', '34b'].flatMap((s) => [
          `codellama/CodeLlama-${s}-hf`,
          `codellama/CodeLlama-${s}-Instruct-hf`,
          `codellama/CodeLlama-${s}-Python-hf`,
        ]),
      ].sort(),
    );
    for (const m of retired) {
      expect(m.retiredOn).toBe('2025-01-07');
      const expected = m.family === 'llama3' ? 8192 : m.family === 'llama2' ? 4096 : 16384;
      expect(m.maxContextLength).toBe(expected);
    }
  });

  it('names a supported replacement of the same size class for every retired model', () => {
    for (const m of MODEL_SEED.filter((x) => x.status === 'retired')) {
      const replacement = defaultCatalog.lookup(m.replacement ?? '');
      expect(replacement.ok, `${m.id} → ${m.replacement}`).toBe(true);
      const big = /70b|34b/i.test(m.id);
      expect(/70B/.test(m.replacement ?? ''), m.id).toBe(big);
      expect(/Instruct/.test(m.replacement ?? ''), m.id).toBe(/instruct|chat/i.test(m.id));
    }
  });

  it('rejects a retired model with the date and the replacement', () => {
    const r = defaultCatalog.lookup('meta-llama/Meta-Llama-3-8B-Instruct');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.code).toBe('model_retired');
    expect(r.message).toContain('2025-01-07');
    expect(r.message).toContain('meta-llama/Meta-Llama-3.1-8B-Instruct');
  });

  it('rejects an unknown model and lists the supported ones', () => {
    const r = defaultCatalog.lookup('openai/gpt-4o');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.code).toBe('model_not_supported');
    expect(r.message).toContain('databricks/dbrx-instruct');
  });

  it('finds models case-insensitively', () => {
    expect(defaultCatalog.find('META-LLAMA/meta-llama-3.1-8b')?.id).toBe('meta-llama/Meta-Llama-3.1-8B');
  });

  it('uses the right tokenizer and system-role rule per family', () => {
    expect(defaultCatalog.find('databricks/dbrx-instruct')?.tokenizer).toBe('cl100k');
    expect(defaultCatalog.find('meta-llama/Llama-3.2-1B')?.tokenizer).toBe('llama3');
    expect(defaultCatalog.find('mistralai/Mixtral-8x7B-v0.1')?.tokenizer).toBe('mistral');
    expect(defaultCatalog.find('mistralai/Mistral-7B-Instruct-v0.2')?.supportsSystemRole).toBe(false);
    expect(defaultCatalog.find('meta-llama/Meta-Llama-3.1-8B-Instruct')?.supportsSystemRole).toBe(true);
  });

  it('refreshes context lengths from the provider and keeps the seed otherwise', () => {
    const refreshed = defaultCatalog.withProviderModels([
      { name: 'meta-llama/Meta-Llama-3.1-8B', maxContextLength: 65536 },
      { name: 'unknown/new-model', maxContextLength: 9999 },
    ]);
    expect(refreshed.find('meta-llama/Meta-Llama-3.1-8B')?.maxContextLength).toBe(65536);
    expect(refreshed.find('databricks/dbrx-base')?.maxContextLength).toBe(32768);
    expect(refreshed.find('unknown/new-model')).toBeUndefined();
    expect(new Catalog().find('meta-llama/Meta-Llama-3.1-8B')?.maxContextLength).toBe(131072);
  });
  it("a refresh of Databricks' list withdraws only Databricks models, never another provider's", () => {
    const refreshed = defaultCatalog.withProviderModels(
      [{ name: 'meta-llama/Meta-Llama-3.1-8B', maxContextLength: 131072 }],
      '2026-11-30T03:00:00Z',
    );
    expect(refreshed.lookup('meta-llama/Meta-Llama-3.1-8B').ok).toBe(true);
    expect(refreshed.lookup('databricks/dbrx-base')).toMatchObject({ ok: false, code: 'model_not_supported' });
    expect(refreshed.lookup('gpt-4o-mini-2024-07-18').ok).toBe(true);
  });
});

describe('regions', () => {
  it('pins the supported regions', () => {
    expect([...SUPPORTED_REGIONS]).toEqual(['centralus', 'eastus', 'eastus2', 'northcentralus', 'westus']);
  });
  it('accepts display names and rejects others', () => {
    expect(isSupportedRegion('East US 2')).toBe(true);
    expect(isSupportedRegion('westeurope')).toBe(false);
    expect(isSupportedRegion('westus2')).toBe(false);
  });
});
