import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type RunningFakeLlm, startFakeLlm } from '@assistant/fake-llm';
import { freePort, STACK_ADMIN_TOKEN, type Stack, startStack, startTcpProxy } from '@assistant/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './cli-process.ts';

// The real CLI, as its own process, against the real stack (API and worker processes, Redis,
// Postgres, the ONNX model), the LLM being the fake OpenAI-compatible server.
let stack: Stack;
let fake: RunningFakeLlm;
let vault: string;
let env: Record<string, string>;

/** A made-up word per note (kwaab, kwaac, …), so a question can name exactly one note. */
const codeName = (i: number) =>
  `kw${String.fromCharCode(97 + Math.floor(i / 26))}${String.fromCharCode(97 + (i % 26))}z`;

async function writeVault(dir: string) {
  for (let i = 0; i < 100; i++) {
    const folder = path.join(dir, `area-${i % 4}`, i % 2 ? 'deep' : '');
    await mkdir(folder, { recursive: true });
    const name = codeName(i);
    const front = i % 3 === 0 ? `---\ntitle: Project ${name}\ntags: [work, p${i % 5}]\n---\n` : '';
    const heading = i % 3 === 0 ? '' : `# Project ${name}\n\n`;
    await writeFile(
      path.join(folder, `${name}.md`),
      `${front}${heading}The ${name} project ships on day ${i}. The ${name} team owns the ${name} service.\n`,
    );
  }
  await writeFile(path.join(dir, 'area-0', 'diagram.png'), 'not markdown');
  await writeFile(path.join(dir, 'todo.txt'), 'not markdown either');
  await mkdir(path.join(dir, '.obsidian'), { recursive: true });
  await writeFile(path.join(dir, '.obsidian', 'hidden.md'), '# settings, not a note');
}

beforeAll(async () => {
  fake = await startFakeLlm({ settings: { answerTokens: 30, tokensPerSecond: 30 } });
  stack = await startStack('cli', {
    LLM_PROVIDER: 'endpoint',
    LLM_ENDPOINT_URL: `${fake.url}/v1`,
    LLM_MODEL: 'fake-model',
  });
  vault = await mkdtemp(path.join(tmpdir(), 'assistant-vault-'));
  await writeVault(vault);
  const user = await stack.createUser();
  env = { API_URL: stack.api.url, ASSISTANT_API_KEY: user.api_key, ADMIN_TOKEN: STACK_ADMIN_TOKEN };
}, 90_000);

afterAll(async () => {
  await stack?.stop();
  await fake?.close();
  if (vault) await rm(vault, { recursive: true, force: true });
});

const noStack = (text: string) => expect(text).not.toMatch(/\n\s+at /);

describe('the assistant CLI', () => {
  it('imports 100 Markdown notes from nested folders with progress, skipping other files', async () => {
    const run = await runCli(['import', vault], env);
    expect(run.stderr).toMatch(/import \[.*\] \d+\/100/);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('100 Markdown files (2 other files skipped)');
    expect(run.stdout).toContain('100 created, 0 updated, 0 unchanged');
    expect(run.stdout).toContain('100 indexed, 0 still pending, 0 failed');
  }, 180_000);

  it('makes the notes searchable: ask streams the answer, then cites the note it names', async () => {
    const name = codeName(42);
    const run = await runCli(['ask', `What do my notes say about the ${name} project?`], env);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^Fake answer to: /);
    expect(run.stdout).toMatch(new RegExp(`Cited notes:\\n {2}\\[1\\] Project ${name} \\(n_[0-9a-f]{32}`));
    // Streamed: the answer's text arrived in several pieces, well before the process ended.
    const answerChunks = run.stdoutChunks.filter((c) => !c.text.includes('Cited notes:'));
    expect(answerChunks.length).toBeGreaterThan(3);
    expect(run.exitAtMs - answerChunks[0]!.atMs).toBeGreaterThan(300);
  }, 60_000);

  it('ask resumes a stream that drops mid-answer, with no token lost or repeated', async () => {
    fake.update({ answerTokens: 120, tokensPerSecond: 30 });
    const proxy = await startTcpProxy({ port: stack.api.port });
    try {
      let dropped = false;
      const run = await runCli(
        ['ask', `Tell me everything about the ${codeName(7)} project`],
        {
          ...env,
          API_URL: proxy.url('http'),
        },
        {
          onStdout: () => {
            if (dropped) return;
            dropped = true;
            // Cut the connection after the first tokens; the CLI reconnects with Last-Event-ID.
            proxy.setMode('reset');
            setTimeout(() => proxy.setMode('pass'), 300);
          },
        },
      );
      expect(run.code, run.stderr).toBe(0);
      const queryId = /query (q_[0-9a-f]{32})\)\n$/.exec(run.stdout)![1]!;
      const streamed = run.stdout.slice(0, run.stdout.search(/\n\n(Cited notes:|No notes cited\.)/));
      const view = (await (
        await fetch(`${stack.api.url}/v1/queries/${queryId}`, {
          headers: { authorization: `Bearer ${env.ASSISTANT_API_KEY}` },
        })
      ).json()) as { answer: string };
      expect(dropped).toBe(true);
      expect(run.stderr).toContain('[connection lost, resuming]');
      expect(streamed).toBe(view.answer);
    } finally {
      fake.update({ answerTokens: 30, tokensPerSecond: 30 });
      await proxy.close();
    }
  }, 60_000);

  it('re-importing the same folder changes nothing', async () => {
    const before = await runCli(['--json', 'notes', '--limit', '100'], env);
    const run = await runCli(['--json', 'import', vault], env);
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(summary).toMatchObject({
      files: 100,
      created: 0,
      updated: 0,
      unchanged: 100,
      indexed: 100,
      failed: [],
    });
    const after = await runCli(['--json', 'notes', '--limit', '100'], env);
    expect(JSON.parse(after.stdout)).toEqual(JSON.parse(before.stdout));
  }, 60_000);

  it('a changed file updates its note in place', async () => {
    const file = path.join(vault, 'area-1', 'deep', `${codeName(1)}.md`);
    await writeFile(file, `# Project ${codeName(1)}\n\nMoved to day 99.\n`);
    const run = await runCli(['--json', 'import', vault], env);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ created: 0, updated: 1, unchanged: 99, indexed: 100 });
  }, 60_000);

  it('--no-wait returns once the notes are sent, exit 0 with the rest pending', async () => {
    const folder = await mkdtemp(path.join(tmpdir(), 'assistant-vault-'));
    try {
      await writeFile(path.join(folder, 'quick.md'), '# Quick\n\nSent without waiting.\n');
      const run = await runCli(['--json', 'import', '--no-wait', folder], env);
      expect(run.code, run.stderr).toBe(0);
      const summary = JSON.parse(run.stdout) as { created: number; indexed: number; pending: number };
      expect(summary.created).toBe(1);
      expect(summary.indexed + summary.pending).toBe(1);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  }, 30_000);

  it('whoami, notes and usage answer for the key; admin commands create users and keys', async () => {
    const who = await runCli(['--json', 'whoami'], env);
    expect(JSON.parse(who.stdout)).toMatchObject({ tier: 'free', user_id: expect.any(String) });
    const notes = await runCli(['notes', '--limit', '2'], env);
    expect(notes.stdout).toMatch(/^n_[0-9a-f]{32} {2}indexed {2}Project /);
    expect(notes.stdout).toMatch(/more: --cursor \S+/);
    const usage = await runCli(['usage'], env);
    expect(usage.code, usage.stderr).toBe(0);
    expect(usage.stdout).toMatch(/free tier\): \d+ queries/);

    const created = await runCli(['--json', 'create-user', '--tier', 'premium'], env);
    expect(created.code, created.stderr).toBe(0);
    const user = JSON.parse(created.stdout) as { id: string; api_key: string; tier: string };
    expect(user.tier).toBe('premium');
    const key = await runCli(['create-key', user.id], env);
    expect(key.stdout).toMatch(/api key \(shown once\): ask_/);
    const newKey = /api key \(shown once\): (\S+)/.exec(key.stdout)![1]!;
    const whoNew = await runCli(['--json', 'whoami'], { ...env, ASSISTANT_API_KEY: newKey });
    expect(JSON.parse(whoNew.stdout)).toMatchObject({ user_id: user.id, tier: 'premium' });
  }, 60_000);

  it('says what is wrong, without a stack trace, with exit 1 for failures and 2 for usage', async () => {
    const cases: [string[], Record<string, string>, number, RegExp][] = [
      [['--help'], env, 0, /^Usage: assistant/],
      [['import', '--help'], env, 0, /^Usage: assistant import \[options\] <folder>/],
      [['frobnicate'], env, 2, /unknown command 'frobnicate'/],
      [['import'], env, 2, /missing required argument 'folder'/],
      [['notes', '--limit', 'lots'], env, 2, /must be a positive whole number/],
      [['import', path.join(vault, 'nope')], env, 2, /folder not found: /],
      [['whoami'], { API_URL: stack.api.url }, 2, /no credentials: pass --key or set ASSISTANT_API_KEY/],
      [
        ['whoami', '--key', 'ask_wrong'],
        { API_URL: stack.api.url },
        1,
        /refused the credentials \(unauthorized/,
      ],
      [
        ['create-user'],
        { API_URL: stack.api.url, ADMIN_TOKEN: 'x'.repeat(20) },
        1,
        /refused the credentials/,
      ],
      [
        ['whoami'],
        { ...env, API_URL: `http://127.0.0.1:${await freePort()}` },
        1,
        /cannot reach the API at .*ECONNREFUSED/,
      ],
    ];
    for (const [args, runEnv, code, message] of cases) {
      const run = await runCli(args, runEnv);
      expect({ args, code: run.code }).toEqual({ args, code });
      expect(code === 0 ? run.stdout : run.stderr).toMatch(message);
      noStack(run.stderr);
    }
  }, 60_000);

  it('a rate limit is exit 1 with the wait in seconds', async () => {
    const limited = await stack.createUser();
    await stack.setLimits(limited.id, { perMinute: 0 });
    const run = await runCli(['ask', 'anything?'], {
      API_URL: stack.api.url,
      ASSISTANT_API_KEY: limited.api_key,
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^error: rate-limited \(rate_limited\): .*; retry in \d+ s\n$/);
  }, 30_000);
});
