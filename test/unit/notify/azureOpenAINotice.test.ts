import { describe, expect, it } from 'vitest';
import { createEvent } from '../../../shared/events';
import { describeEvent } from '../../../shared/notify/notice';
import { runRecord } from './events';

const FINE_TUNED = 'gpt-4.1-mini-2025-04-14.ft-0123456789abcdef0123456789abcdef-travel-td0123456789ab';

function registered(deployment?: { name: string; sku: string; capacity: number; provisioningState: string }) {
  return createEvent('tunedrop.model.registered', {
    subject: 'run-1',
    team: 'assist',
    model: 'gpt-4.1-mini-2025-04-14',
    time: '2026-11-27T11:00:00.000Z',
    data: {
      runId: 'run-1',
      team: 'assist',
      dataset: 'travel',
      model: 'gpt-4.1-mini-2025-04-14',
      modelFullName: FINE_TUNED,
      version: '1',
      provider: 'azure-openai',
      ...(deployment ? { alias: deployment.name, deployment } : {}),
      lineage: {
        manifestUrl: 'http://127.0.0.1:10000/devstoreaccount1/datasets/assist/travel/run.json',
        providerRunName: 'ftjob-1',
      },
    },
  });
}

describe('model.registered for an Azure OpenAI run', () => {
  it('the card says provider, fine-tuned model id and deployment', () => {
    const notice = describeEvent(
      registered({ name: 'assist-travel', sku: 'Standard', capacity: 1, provisioningState: 'Succeeded' }),
      runRecord({ team: 'assist', dataset: 'travel', provider: 'azure-openai' }),
    );
    const facts = Object.fromEntries(notice.facts.map((f) => [f.label, f.value]));
    expect(facts).toMatchObject({
      Provider: 'Azure OpenAI',
      'Fine-tuned model': FINE_TUNED,
      Deployment: 'assist-travel (Standard, capacity 1)',
    });
    expect(facts.Version).toBeUndefined();
  });

  it('says "not deployed" when the team does not deploy', () => {
    const notice = describeEvent(registered(), runRecord({ team: 'assist', provider: 'azure-openai' }));
    expect(notice.facts.find((f) => f.label === 'Deployment')?.value).toBe('not deployed');
  });

  it('the event schema refuses a model id that is neither a Unity Catalog name nor a fine-tuned id', () => {
    expect(() =>
      createEvent('tunedrop.model.registered', {
        ...{ subject: 'run-1', team: 'assist', model: 'm', time: '2026-11-27T11:00:00.000Z' },
        data: { ...registered().data, modelFullName: 'not a model' },
      }),
    ).toThrow();
  });
});
