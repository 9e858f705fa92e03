import { describe, expect, it } from 'vitest';
import type { Manifest } from '../../../shared/pipeline/manifest';
import { applyTeamConfig, teamConfigSchema } from '../../../shared/pipeline/teams';

const team = teamConfigSchema.parse({
  team: 'nlp',
  allowedModels: ['meta-llama/Meta-Llama-3.1-8B-Instruct', 'mistralai/Mistral-7B-Instruct-v0.2'],
  allowedRegisterTo: ['ml.nlp', 'ml.shared.support_bot'],
  defaults: { registerTo: 'ml.nlp', trainingDuration: '2ep' },
  channels: [
    { name: 'ops', kind: 'teams', url: 'https://example.invalid/teams' },
    { name: 'dev', kind: 'slack', url: 'https://example.invalid/slack' },
  ],
});
const manifest: Manifest = { model: 'meta-llama/Meta-Llama-3.1-8B-Instruct', task: 'chat', train: 'train.jsonl' };

describe('team configuration', () => {
  it('fills gaps from the team defaults', () => {
    const r = applyTeamConfig(team, manifest);
    expect(r).toMatchObject({ ok: true, settings: { registerTo: 'ml.nlp', trainingDuration: '2ep' } });
    if (r.ok) expect(r.settings.channels.map((c) => c.name)).toEqual(['ops', 'dev']);
  });

  it('lets the manifest narrow: a sub-schema model name, a subset of channels', () => {
    const r = applyTeamConfig(team, { ...manifest, registerTo: 'ml.nlp.support_bot', notify: ['dev'] });
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.settings.registerTo).toBe('ml.nlp.support_bot');
      expect(r.settings.channels.map((c) => c.name)).toEqual(['dev']);
    }
  });

  it('never widens: another model, another schema, an unknown channel', () => {
    const r = applyTeamConfig(team, {
      ...manifest,
      model: 'databricks/dbrx-instruct',
      registerTo: 'ml.finance',
      notify: ['pager'],
    });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems.map((p) => p.code).sort()).toEqual([
      'channel_not_allowed',
      'model_not_allowed',
      'register_to_not_allowed',
    ]);
  });

  it('does not treat a schema name prefix as a match (ml.nlp does not allow ml.nlpx)', () => {
    const r = applyTeamConfig(team, { ...manifest, registerTo: 'ml.nlpx' });
    expect(r).toMatchObject({ ok: false, problems: [{ code: 'register_to_not_allowed' }] });
  });

  it('requires registerTo when the team has no default', () => {
    const bare = teamConfigSchema.parse({ team: 'cv', allowedModels: ['*'], allowedRegisterTo: ['ml.cv'] });
    expect(applyTeamConfig(bare, manifest)).toMatchObject({ ok: false, problems: [{ field: 'registerTo' }] });
    expect(applyTeamConfig(bare, { ...manifest, registerTo: 'ml.cv' }).ok).toBe(true);
  });

  it('rejects a malformed team configuration', () => {
    expect(teamConfigSchema.safeParse({ team: 'NLP team', allowedModels: [], allowedRegisterTo: ['x'] }).success).toBe(
      false,
    );
  });
});

describe('team provider choice', () => {
  const azureManifest = { model: 'gpt-4o-mini-2024-07-18', task: 'chat' as const, train: 'train.jsonl' };

  it('defaults to databricks, unchanged for existing team files', () => {
    const parsed = teamConfigSchema.parse({ team: 'old', allowedModels: ['*'], allowedRegisterTo: ['ml.x'] });
    expect(parsed.provider).toBe('databricks');
    const r = applyTeamConfig(parsed, {
      ...azureManifest,
      model: 'meta-llama/Meta-Llama-3.1-8B-Instruct',
      registerTo: 'ml.x',
    });
    expect(r.ok && r.settings.provider).toBe('databricks');
  });

  it('an azure-openai team needs no registerTo, and refuses one', () => {
    const team = teamConfigSchema.parse({
      team: 'az',
      provider: 'azure-openai',
      allowedModels: ['*'],
      deployment: { capacity: 5 },
    });
    expect(team.deployment).toEqual({ sku: 'Standard', capacity: 5 });
    const r = applyTeamConfig(team, azureManifest);
    expect(r).toMatchObject({ ok: true, settings: { provider: 'azure-openai', registerTo: '' } });
    const bad = applyTeamConfig(team, { ...azureManifest, registerTo: 'ml.x' });
    expect(bad.ok).toBe(false);
  });

  it('a manifest may choose another provider only when the team allows it', () => {
    const strict = teamConfigSchema.parse({ team: 'db', allowedModels: ['*'], allowedRegisterTo: ['ml.x'] });
    const refused = applyTeamConfig(strict, { ...azureManifest, provider: 'azure-openai' });
    expect(refused.ok === false && refused.problems.map((p) => p.code)).toEqual(['provider_not_allowed']);
    const open = teamConfigSchema.parse({ ...strict, allowedProviders: ['databricks', 'azure-openai'] });
    const chosen = applyTeamConfig(open, { ...azureManifest, provider: 'azure-openai' });
    expect(chosen.ok && chosen.settings.provider).toBe('azure-openai');
  });
});
