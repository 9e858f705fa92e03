import type { TokenCredential } from '@azure/identity';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type AzureOpenAIEmulator, startAzureOpenAIEmulator } from '../../../emulators/azure-openai';
import { ArmModelDeployer, deploymentNameFor } from '../../../shared/registry/azureOpenAIDeployment';
import { isProviderError } from '../../../shared/training/provider';
import { fineTunedModelOn } from '../../support/azureOpenAI';

/** The control-plane stand-in, driven by the official @azure/arm-cognitiveservices client. */
describe('ARM deployments stand-in with @azure/arm-cognitiveservices', () => {
  let t: number;
  let emulator: AzureOpenAIEmulator;
  let fineTuned: string;
  const sleep = async (ms: number) => {
    t += ms;
  };
  const credential = (token: () => string): TokenCredential => ({
    getToken: async () => ({ token: token(), expiresOnTimestamp: t + 3_600_000 }),
  });
  const deployer = (over: Partial<ConstructorParameters<typeof ArmModelDeployer>[0]> = {}) =>
    new ArmModelDeployer({
      subscriptionId: '00000000-0000-0000-0000-000000000001',
      resourceGroup: 'rg-tunedrop',
      account: emulator.account,
      sku: 'Standard',
      capacity: 2,
      credential: credential(() => emulator.bearerToken),
      endpoint: emulator.managementUrl,
      sleep,
      now: () => t,
      pollMs: 10_000,
      ...over,
    });

  beforeEach(async () => {
    t = Date.parse('2026-11-30T00:00:00Z');
    emulator = await startAzureOpenAIEmulator({ now: () => t });
    fineTuned = await fineTunedModelOn(emulator, { now: () => t, advance: sleep }, 'run-1', 'gpt-4o-2024-08-06');
  });
  afterEach(() => emulator.stop());

  it('names deployments after team and dataset, safely', () => {
    expect(deploymentNameFor('support', 'bot-v2')).toBe('support-bot-v2');
    expect(deploymentNameFor('support', 'faq.2026')).toMatch(/^support-faq-2026-[0-9a-f]{8}$/);
    expect(deploymentNameFor('a'.repeat(40), 'b'.repeat(40)).length).toBeLessThanOrEqual(64);
  });

  it('creates the deployment (PUT), waits until it succeeds, and is idempotent', async () => {
    const result = await deployer().deploy({ team: 'support', dataset: 'bot', fineTunedModel: fineTuned });
    expect(result).toMatchObject({
      name: 'support-bot',
      model: fineTuned,
      sku: 'Standard',
      capacity: 2,
      provisioningState: 'Succeeded',
    });
    expect(emulator.state.count('deployments.put')).toBe(1);
    expect(emulator.state.count('deployments.get')).toBeGreaterThan(2);
    await deployer().deploy({ team: 'support', dataset: 'bot', fineTunedModel: fineTuned });
    expect(emulator.state.count('deployments.put')).toBe(1);
    const d = [...emulator.state.deployments.values()][0]!;
    expect(d).toMatchObject({
      sku: { name: 'Standard', capacity: 2 },
      model: { format: 'OpenAI', name: fineTuned, version: '1' },
    });
  });

  it('a failed deployment, an unknown model and a bad token are coded errors', async () => {
    emulator.state.failNextDeployment('Insufficient quota.');
    const failed = await deployer()
      .deploy({ team: 't', dataset: 'd', fineTunedModel: fineTuned })
      .catch((e: unknown) => e);
    expect(isProviderError(failed, 'bad_request')).toBe(true);
    expect((failed as Error).message).toContain('Failed');
    const unknown = await deployer()
      .deploy({ team: 't', dataset: 'e', fineTunedModel: 'gpt-4o.ft-nope' })
      .catch((e: unknown) => e);
    expect((unknown as Error).message).toContain('DeploymentModelNotSupported');
    const denied = await deployer({ credential: credential(() => 'wrong') })
      .deploy({ team: 't', dataset: 'f', fineTunedModel: fineTuned })
      .catch((e: unknown) => e);
    expect(isProviderError(denied, 'unauthorized')).toBe(true);
  });

  it('refuses plain http to anything but this machine', () => {
    expect(() => deployer({ endpoint: 'http://management.example.com' })).toThrow(/https/);
  });
});
