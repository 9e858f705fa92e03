// A validation worker that throws on its first batch (an uncaught error: the Worker's 'error' event).
const { parentPort } = require('node:worker_threads');
parentPort.on('message', () => {
  throw new Error('tokenizer data is corrupt');
});
