import { spawnSync } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

function cli(args: string[]) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/cli.ts', ...args], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ADMIN_TOKEN: 'test-token' },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('npm run cli', () => {
  it('--help and -h print usage and exit 0', () => {
    for (const flag of ['--help', '-h']) {
      const run = cli([flag]);
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/^usage: npm run cli -- create-user/);
      expect(run.stderr).toBe('');
    }
  });

  it('an unknown option prints usage and exits 2, with no stack trace', () => {
    const run = cli(['create-user', '--nope']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--nope/);
    expect(run.stderr).toMatch(/usage: npm run cli/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('an unreachable API is a one-line message and exit 1, with no stack trace', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const run = cli(['create-user', '--url', url]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`cannot reach the API at ${url}`);
    expect(run.stderr).toMatch(/ECONNREFUSED/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });
});
