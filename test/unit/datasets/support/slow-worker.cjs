// A validation worker that takes 800 ms per batch (a long batch in flight) and answers an empty result.
const { parentPort } = require('node:worker_threads');
parentPort.on('message', (msg) => {
  setTimeout(() => {
    parentPort.postMessage({ id: msg.id, buffer: msg.buffer, result: { rows: 0, validRows: 0 } }, [msg.buffer]);
  }, 800);
});
