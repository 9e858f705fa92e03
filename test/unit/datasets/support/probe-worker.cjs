// A validation worker that answers every batch with what it was started with: its resource limits,
// exec arguments and whether workerData carried the shared rank table.
const { parentPort, resourceLimits, workerData } = require('node:worker_threads');
parentPort.on('message', (msg) => {
  const result = {
    maxYoungGenerationSizeMb: resourceLimits.maxYoungGenerationSizeMb,
    execArgv: process.execArgv,
    hasRanks: workerData.ranks !== undefined,
    bytes: msg.length,
  };
  parentPort.postMessage({ id: msg.id, buffer: msg.buffer, result }, [msg.buffer]);
});
