import { parentPort, workerData } from 'node:worker_threads';
import { type EngineConfig, loadCounters } from './engine';
import { processBatch } from './rows';

const config = workerData as EngineConfig;
const ready = loadCounters(config);

parentPort?.on('message', async (msg: { id: number; batch: Uint8Array; firstLine: number }) => {
  try {
    const { counter, specials } = await ready;
    const result = processBatch(msg.batch, msg.firstLine, config.rules, counter, specials);
    parentPort?.postMessage({ id: msg.id, result }, [
      result.rowTokens.buffer,
      result.rowHashes.buffer,
      result.rowLines.buffer,
    ] as ArrayBuffer[]);
  } catch (err) {
    parentPort?.postMessage({ id: msg.id, error: (err as Error).message });
  }
});
