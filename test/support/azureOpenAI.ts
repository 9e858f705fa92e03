import { Readable } from 'node:stream';
import type { AzureOpenAIEmulator } from '../../emulators/azure-openai';
import { AzureOpenAITrainingProvider } from '../../shared/training/azureOpenAI';

/**
 * A fine-tuned model on the Azure OpenAI emulator, made the way the app makes one (a staged file, a
 * job, through the adapter and the official SDK): `advance` moves the emulator's virtual clock past
 * the training. Resolves with the fine-tuned model id.
 */
export async function fineTunedModelOn(
  emulator: AzureOpenAIEmulator,
  clock: { now(): number; advance(ms: number): unknown },
  runId: string,
  model = 'gpt-4o-mini-2024-07-18',
): Promise<string> {
  const provider = new AzureOpenAITrainingProvider({
    endpoint: emulator.url,
    auth: { apiKey: emulator.apiKey },
    sleep: async (ms) => {
      await clock.advance(ms);
    },
    now: () => clock.now(),
  });
  const rows = Array.from({ length: 10 }, (_, i) =>
    JSON.stringify({
      messages: [
        { role: 'user', content: `q${i}` },
        { role: 'assistant', content: `a${i}` },
      ],
    }),
  ).join('\n');
  const file = await provider.stageFile(runId, 'train', () => Readable.from([Buffer.from(rows)]));
  const ref = await provider.create({ model, task: 'chat', trainDataPath: file.id, registerTo: 'x.y' }, runId);
  clock.advance(3_600_000);
  const name = (await provider.get(ref)).registeredModel?.name;
  if (!name) throw new Error(`the emulator's job ${ref.name} has no fine-tuned model after an hour`);
  return name;
}
