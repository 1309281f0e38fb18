#!/usr/bin/env node
// build.mjs: the production build. Each app becomes one ES module, apps/<app>/dist/main.js, run
// by `node` itself (no tsx in production).
//
// Contract
//   Usage:  node scripts/build.mjs [app…]       (default: api worker cli fake-llm; `npm run build`)
//   Writes: apps/<app>/dist/main.js (+ .map), and dist/assets/… for every file a module loads by
//           `new URL('<relative path>', import.meta.url)` (Lua scripts, migrations, static pages).
//   Bundles the workspace packages (they export TypeScript source); every other dependency stays
//           an import, resolved from node_modules at run time (the image installs production
//           dependencies only). Exit 0, or 1 with esbuild's messages.
import { cpSync, existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const apps = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['api', 'worker', 'cli', 'fake-llm'];

/** Third-party dependencies of an app and of the workspace packages it uses, transitively. */
function externalsOf(packageDir, seen = new Set()) {
  const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'));
  const externals = new Set();
  for (const name of Object.keys(manifest.dependencies ?? {})) {
    if (!name.startsWith('@assistant/')) {
      externals.add(name);
      continue;
    }
    if (seen.has(name)) continue;
    seen.add(name);
    const dir = join(root, 'packages', name.slice('@assistant/'.length));
    for (const dep of externalsOf(dir, seen)) externals.add(dep);
  }
  return externals;
}

/**
 * Rewrites `new URL('./x', import.meta.url)` in workspace sources to a path under the bundle's
 * assets/ folder and copies the folder (the file's, or the one named) there, so it resolves from
 * dist/main.js too.
 */
function assetsPlugin(outdir) {
  const URL_OF_FILE = /new URL\((['"`])(\.{1,2}\/[^'"`$]+)\1, import\.meta\.url\)/g;
  return {
    name: 'assets',
    setup(b) {
      b.onLoad({ filter: /\.ts$/ }, (args) => {
        if (args.path.includes('node_modules')) return undefined;
        const source = readFileSync(args.path, 'utf8');
        if (!source.includes('import.meta.url')) return undefined;
        const contents = source.replace(URL_OF_FILE, (match, quote, rel) => {
          const target = resolve(dirname(args.path), rel);
          // Test helpers and self-references (`new URL('.', …)`) are not assets.
          if (!existsSync(target) || target.endsWith('.ts') || target.endsWith('.mjs')) return match;
          // A folder's trailing slash is kept: `new URL(name, folder)` resolves inside it.
          const asset = `assets/${relative(root, target)}${rel.endsWith('/') ? '/' : ''}`;
          // A file's whole folder: a Lua script `-- @include`s helpers that sit beside it.
          const folder = statSync(target).isDirectory() ? target : dirname(target);
          cpSync(folder, join(outdir, 'assets', relative(root, folder)), { recursive: true });
          return `new URL(${quote}./${asset}${quote}, import.meta.url)`;
        });
        return { contents, loader: 'ts' };
      });
    },
  };
}

for (const app of apps) {
  const appDir = join(root, 'apps', app);
  const outdir = join(appDir, 'dist');
  rmSync(outdir, { recursive: true, force: true });
  try {
    await build({
      entryPoints: [join(appDir, 'src/main.ts')],
      outfile: join(outdir, 'main.js'),
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      sourcemap: true,
      external: [...externalsOf(appDir)].flatMap((name) => [name, `${name}/*`]),
      // CommonJS dependencies bundled by accident would need `require`: give ESM one.
      banner: {
        js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
      },
      plugins: [assetsPlugin(outdir)],
      logLevel: 'warning',
    });
  } catch {
    process.exit(1);
  }
  console.log(`built apps/${app}/dist/main.js`);
}
