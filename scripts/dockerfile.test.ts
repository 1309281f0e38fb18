import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Docker cannot run here: the Dockerfile is checked by dockerfilelint and by the contract below;
// scripts/production-build.e2e.test.ts runs the build the way the final stage does.
const root = fileURLToPath(new URL('..', import.meta.url));
const text = readFileSync(new URL('../Dockerfile', import.meta.url), 'utf8');

type Instruction = { op: string; args: string };
/** Instructions per stage, with `\`-continued lines joined and comments dropped. */
function stages(): { name: string; lines: Instruction[] }[] {
  const joined = text.replace(/\\\n\s*/g, ' ').split('\n');
  const result: { name: string; lines: Instruction[] }[] = [];
  for (const line of joined) {
    const match = /^([A-Z]+)\s+(.*)$/.exec(line.trim());
    if (!match || line.trim().startsWith('#')) continue;
    const [, op, args] = match as unknown as [string, string, string];
    if (op === 'FROM') result.push({ name: /\sAS\s+(\S+)/i.exec(args)?.[1] ?? 'final', lines: [] });
    result.at(-1)?.lines.push({ op, args });
  }
  return result;
}

describe('Dockerfile', () => {
  it('passes dockerfilelint', () => {
    const run = spawnSync(
      process.execPath,
      ['node_modules/dockerfilelint/bin/dockerfilelint', 'Dockerfile'],
      {
        cwd: root,
        encoding: 'utf8',
      },
    );
    expect(run.stdout).toContain('Issues: None found');
    expect(run.status).toBe(0);
  });

  it('builds in one stage and ships only production dependencies, the build and the model in the last', () => {
    const all = stages();
    expect(all.map((s) => s.name)).toEqual(['build', 'prod-deps', 'final']);
    const [build, deps, final] = all as [(typeof all)[0], (typeof all)[0], (typeof all)[0]];
    const run = (stage: typeof build) =>
      stage.lines
        .filter((l) => l.op === 'RUN')
        .map((l) => l.args)
        .join('\n');
    expect(run(build)).toMatch(/npm ci .*&& npm run build .*setup-model\.mjs/);
    expect(run(deps)).toMatch(/npm ci --omit=dev/);
    expect(run(final)).not.toMatch(/npm (ci|install)/);
    const copies = final.lines.filter((l) => l.op === 'COPY').map((l) => l.args);
    expect(copies.every((c) => c.startsWith('--from='))).toBe(true);
    expect(copies.some((c) => c.includes('--from=prod-deps') && c.includes('/app/node_modules'))).toBe(true);
    expect(copies.some((c) => /--from=build .*\/app\/model model/.test(c))).toBe(true);

    // The production-dependency install sees every workspace, or npm ci would disagree with the lockfile.
    const manifests = ['apps', 'packages'].flatMap((dir) =>
      readdirSync(new URL(`../${dir}`, import.meta.url)).map((name) => `${dir}/${name}/package.json`),
    );
    const copied = deps.lines.filter((l) => l.op === 'COPY').map((l) => l.args.split(/\s+/)[0]);
    expect(manifests.filter((m) => !copied.includes(m))).toEqual([]);
  });

  it('runs as a non-root user, with node itself as the process, and has a HEALTHCHECK', () => {
    const final = stages().at(-1)!;
    const op = (name: string) => final.lines.filter((l) => l.op === name).map((l) => l.args);
    expect(op('USER')).toEqual(['node']);
    expect(op('CMD')).toEqual(['["node", "apps/api/dist/main.js"]']);
    expect(op('ENTRYPOINT')).toEqual([]);
    expect(op('HEALTHCHECK')[0]).toMatch(/CMD \["node", "scripts\/healthcheck\.mjs"\]$/);
    expect(op('ENV').join(' ')).toMatch(/EMBEDDING_MODEL_DIR=\/app\/model/);
    // What the build writes is what the final stage copies.
    for (const app of ['api', 'worker', 'cli', 'fake-llm']) {
      expect(op('COPY').some((c) => c.includes(`/app/apps/${app}/dist apps/${app}/dist`))).toBe(true);
    }
  });
});
