import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';

// The boundary rules of `npm run lint` (.dependency-cruiser.cjs) fire on a fixture tree that breaks
// each of them once; the real tree passing is `npm run lint` itself.
const root = fileURLToPath(new URL('..', import.meta.url));
const fixture = mkdtempSync(join(tmpdir(), 'boundaries-'));

afterAll(() => rmSync(fixture, { recursive: true, force: true }));

function write(path: string, text: string) {
  mkdirSync(dirname(join(fixture, path)), { recursive: true });
  writeFileSync(join(fixture, path), text);
}

it('depcruise with the lint config fails on every kind of boundary violation', () => {
  write('tsconfig.json', '{"compilerOptions":{"allowImportingTsExtensions":true,"noEmit":true}}');
  write('apps/worker/src/job.ts', 'export const job = 1;\n');
  write('apps/fake-llm/src/index.ts', 'export const fake = 1;\n');
  write('apps/api/src/main.ts', "import { job } from '../../worker/src/job.ts';\nexport const x = job;\n");
  write(
    'apps/api/src/uses-llm.ts',
    "import { llm } from '../../../packages/llm/src/index.ts';\nexport const y = llm;\n",
  );
  write(
    'apps/api/src/ok.test.ts',
    "import { fake } from '../../fake-llm/src/index.ts';\nexport const z = fake;\n",
  );
  write('packages/llm/src/index.ts', 'export const llm = 1;\n');
  write(
    'packages/cache/src/up.ts',
    "import { x } from '../../../apps/api/src/main.ts';\nexport const up = x;\n",
  );
  write(
    'packages/contracts/src/index.ts',
    "import { readFileSync } from 'node:fs';\nexport const r = readFileSync;\n",
  );
  write('packages/db/src/a.ts', "import { b } from './b.ts';\nexport const a = () => b;\n");
  write('packages/db/src/b.ts', "import { a } from './a.ts';\nexport const b = () => a;\n");

  const run = spawnSync(
    process.execPath,
    [
      join(root, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs'),
      'apps',
      'packages',
      '--config',
      join(root, '.dependency-cruiser.cjs'),
    ],
    { cwd: fixture, encoding: 'utf8' },
  );
  const output = run.stdout + run.stderr;
  expect(run.status).not.toBe(0);
  expect(output).toMatch(/app-imports-app: apps\/api\/src\/main\.ts → apps\/worker\/src\/job\.ts/);
  expect(output).toMatch(/api-imports-worker-only-package: apps\/api\/src\/uses-llm\.ts → packages\/llm/);
  expect(output).toMatch(/package-imports-app: packages\/cache\/src\/up\.ts → apps\/api/);
  expect(output).toMatch(/contracts-imports-beyond-zod: packages\/contracts\/src\/index\.ts → (node:)?fs/);
  expect(output).toMatch(/no-cycle: packages\/db\/src\/a\.ts → /);
  // A test may start the fake LLM.
  expect(output).not.toContain('apps/api/src/ok.test.ts');
});
