import { parentPort, workerData } from 'node:worker_threads';
import { type EngineConfig, loadCounters, type WorkerReply, type WorkerRequest } from './engine';
import { processBatch } from './rows';

const config = workerData as EngineConfig;
const ready = loadCounters(config);

parentPort?.on('message', async (msg: WorkerRequest) => {
  let reply: WorkerReply;
  try {
    const { counter, specials } = await ready;
    const batch = new Uint8Array(msg.buffer, 0, msg.length);
    reply = {
      id: msg.id,
      buffer: msg.buffer,
      result: processBatch(batch, msg.firstLine, config.rules, counter, specials),
    };
  } catch (err) {
    reply = { id: msg.id, buffer: msg.buffer, error: (err as Error).message };
  }
  const transfer: ArrayBuffer[] = [msg.buffer];
  if (reply.result) {
    transfer.push(
      reply.result.rowTokens.buffer as ArrayBuffer,
      reply.result.rowHashes.buffer as ArrayBuffer,
      reply.result.rowLines.buffer as ArrayBuffer,
    );
  }
  parentPort?.postMessage(reply, transfer);
});
