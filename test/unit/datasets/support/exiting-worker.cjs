// A validation worker that dies on its first batch, as a worker killed by an out-of-memory error would.
const { parentPort } = require('node:worker_threads');
parentPort.on('message', () => process.exit(3));
