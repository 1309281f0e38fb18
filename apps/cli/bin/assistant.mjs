#!/usr/bin/env node
// The `assistant` command. From a checkout (the TypeScript source is there) it runs the source
// through tsx; a production install, which has only the build, runs dist/main.js.
import { existsSync } from 'node:fs';

const source = new URL('../src/main.ts', import.meta.url);
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source.href);
} else {
  await import(new URL('../dist/main.js', import.meta.url).href);
}
