// A validation worker that answers every batch with an error, as worker.ts does when a batch throws.
const { parentPort } = require('node:worker_threads');
parentPort.on('message', (msg) => {
  parentPort.postMessage({ id: 999_999, error: 'reply for a batch nobody sent' });
  parentPort.postMessage({ id: msg.id, buffer: msg.buffer, error: `batch at line ${msg.firstLine} failed` }, [
    msg.buffer,
  ]);
});
