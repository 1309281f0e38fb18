// Module boundaries, checked by `npm run lint` (scripts/check-boundaries.test.ts proves the rules
// fire). Workspace packages resolve through their node_modules links to packages/<name>/src.
const TEST = '\\.test\\.ts$';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'app-imports-app',
      comment: 'Apps share code through packages/, never through each other.',
      severity: 'error',
      from: { path: '^apps/([^/]+)/', pathNot: TEST },
      to: { path: '^apps/', pathNot: '^apps/$1/' },
    },
    {
      name: 'package-imports-app',
      comment: 'Packages are below apps: an app may use a package, never the reverse.',
      severity: 'error',
      from: { path: '^packages/', pathNot: TEST },
      to: { path: '^apps/' },
    },
    {
      name: 'test-imports-other-app',
      comment: 'Tests may start the fake LLM (a test double served over real HTTP), no other app.',
      severity: 'error',
      from: { path: ['^apps/([^/]+)/.*\\.test\\.ts$', '^packages/.*\\.test\\.ts$'] },
      to: { path: '^apps/', pathNot: ['^apps/$1/', '^apps/fake-llm/'] },
    },
    {
      name: 'api-imports-worker-only-package',
      comment: 'The API neither embeds nor calls the LLM; the worker does.',
      severity: 'error',
      from: { path: '^apps/api/' },
      to: { path: '^packages/(embeddings|llm)/' },
    },
    {
      name: 'contracts-imports-beyond-zod',
      comment: 'The contracts are pure schemas that any client can use: zod only.',
      severity: 'error',
      from: { path: '^packages/contracts/' },
      to: { pathNot: ['^packages/contracts/', '(^|/)node_modules/zod/'] },
    },
    {
      name: 'no-cycle',
      comment: 'Import cycles make start-up order and tests fragile.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(dist|coverage)/' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'node', 'default'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.json'],
    },
  },
};
