// A validation worker that answers every batch with neither a result nor an error message.
const { parentPort } = require('node:worker_threads');
parentPort.on('message', (msg) => {
  parentPort.postMessage({ id: msg.id, buffer: msg.buffer }, [msg.buffer]);
});
