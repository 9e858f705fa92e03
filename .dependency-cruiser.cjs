/**
 * The architecture's import rules (docs/architecture.md), checked in CI by `npm run lint:deps`.
 * shared/ is what runs in Azure; local/, cli/ and emulators/ are tooling that may import shared/,
 * never the other way round.
 */
module.exports = {
  forbidden: [
    {
      name: 'shared-not-to-tooling',
      comment: 'shared/ ships to Azure: it never imports the local runtime, the CLI or an emulator.',
      severity: 'error',
      from: { path: '^shared/' },
      to: { path: '^(local|cli|emulators)/' },
    },
    {
      name: 'functions-not-to-tooling',
      comment: 'functions/ ships to Azure: it never imports the local runtime, the CLI or an emulator.',
      severity: 'error',
      from: { path: '^functions/' },
      to: { path: '^(local|cli|emulators)/' },
    },
    {
      name: 'functions-only-roots-and-handlers',
      comment:
        'A function file asks the composition root for its deps and calls a handler: it builds no adapter and reads no setting itself.',
      severity: 'error',
      from: { path: '^functions/' },
      to: {
        path: '^shared/(adapters|registry|training|config|net|datasets|catalog)/|^node_modules/@azure/(storage-blob|data-tables|service-bus|identity)/',
      },
    },
    {
      name: 'domain-without-sdk-types',
      comment: 'The pipeline use cases work on ports (shared/pipeline/ports.ts): no Azure Storage or Service Bus SDK.',
      severity: 'error',
      from: { path: '^shared/(pipeline|datasets|catalog)/' },
      to: { path: '^node_modules/@azure/(storage-blob|data-tables|service-bus|identity)/' },
    },
    {
      name: 'only-the-root-composes',
      comment: 'Nothing in shared/ but the composition root constructs the app from its parts.',
      severity: 'error',
      from: { path: '^shared/', pathNot: '^shared/(compositionRoot|api/functions)\\.ts$' },
      to: { path: '^shared/compositionRoot\\.ts$' },
    },
    {
      name: 'no-circular',
      comment:
        'Import cycles make the layers impossible to read in order. A cycle closed only by type imports (erased at build) is not a load-order cycle and is allowed.',
      severity: 'error',
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules|test/fixtures)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
