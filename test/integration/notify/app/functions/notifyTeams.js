// The real, compiled function (npx tsc -p tsconfig.build.json): loaded by the local host like the app loads it.
module.exports = require('../../../../../dist/functions/notifyTeams.js');
