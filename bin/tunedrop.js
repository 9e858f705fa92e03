#!/usr/bin/env node
// Thin runner: the CLI is compiled to dist/ by `npm install` (prepare) or `npm run build`.
const path = require('node:path');
const fs = require('node:fs');
// `tunedrop models | head` closes the pipe early: that is not an error.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});
const entry = path.join(__dirname, '..', 'dist', 'cli', 'main.js');
if (!fs.existsSync(entry)) {
  process.stderr.write(
    'tunedrop: not built yet — run `npm install` (or `npm run build`) in the tunedrop folder first\n',
  );
  process.exit(2);
}
require(entry)
  .main(process.argv.slice(2))
  .then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      process.stderr.write(`tunedrop: ${err && err.message ? err.message : String(err)}\n`);
      process.exitCode = 2;
    },
  );
