// Runs the TypeScript validation worker under tsx, for tests (production runs dist/…/worker.js).
require('tsx/cjs');
require('../../../../shared/datasets/worker.ts');
