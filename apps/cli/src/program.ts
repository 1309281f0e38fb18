import type { Writable } from 'node:stream';
import { Tier } from '@assistant/contracts';
import { SingleBar } from 'cli-progress';
import { Command, InvalidArgumentError, Option } from 'commander';
import { createApiClient } from './api-client.ts';
import { askQuestion } from './ask.ts';
import { readCliEnv } from './cli-env.ts';
import { EXIT } from './cli-error.ts';
import { type ImportProgress, importNotes } from './import-notes.ts';
import { formatImportSummary, formatNotes, formatSources, formatUsage } from './text-output.ts';

/** Where the program writes. */
export type ProgramIo = { stdout: Writable; stderr: Writable; isTTY: boolean };

type GlobalOptions = { url: string; key?: string; json?: boolean };

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive whole number');
  return n;
}

/** The commander program: every command, its options and `--help`. */
export function buildProgram(io: ProgramIo): Command {
  const env = readCliEnv();
  const print = (text: string): void => {
    io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  };
  const printJson = (value: unknown) => print(JSON.stringify(value, null, 2));

  const program = new Command('assistant')
    .description('Ask questions of your own notes: import, ask, list, and manage users and keys.')
    .addOption(new Option('--url <url>', 'API base URL (env API_URL)').default(env.apiUrl))
    .addOption(new Option('--key <api-key>', "a user's API key (env ASSISTANT_API_KEY)"))
    .option('--json', 'print JSON for scripts instead of text')
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .addHelpText(
      'after',
      '\nExit codes: 0 ok, 1 the operation failed (API unreachable or refused), 2 a usage error.\n' +
        'Admin commands use ADMIN_TOKEN (or .local/admin-token, written by `npm start`).',
    );

  const globals = () => program.opts<GlobalOptions>();
  const userClient = () =>
    createApiClient({
      url: globals().url,
      token: globals().key ?? env.apiKey,
      tokenHint: 'pass --key or set ASSISTANT_API_KEY to an API key (`create-user` prints one)',
    });
  const adminClient = () =>
    createApiClient({
      url: globals().url,
      token: env.adminToken,
      tokenHint:
        "set ADMIN_TOKEN to the API's admin token (or run `npm start` once: it writes .local/admin-token)",
    });
  // Subcommands share the parent's output and exit handling.
  const command = (name: string) =>
    program
      .command(name)
      .exitOverride()
      .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
      .showHelpAfterError('(add --help for usage)');

  command('create-user')
    .description('create a user and print its first API key (admin)')
    .addOption(new Option('--tier <tier>', 'service tier').choices(Tier.options).default('free'))
    .option('--email <email>', "the user's email")
    .action(async (options: { tier: string; email?: string }) => {
      const res = await adminClient().call<{ id: string; api_key: string; tier: string }>(
        'POST',
        '/v1/admin/users',
        {
          tier: options.tier,
          ...(options.email ? { email: options.email } : {}),
        },
      );
      if (globals().json) return printJson(res.body);
      print(`user ${res.body.id} (${res.body.tier})\napi key (shown once): ${res.body.api_key}`);
    });

  command('create-key')
    .description('create one more API key for a user (admin); the other keys keep working')
    .argument('<user-id>', 'the user id create-user printed')
    .action(async (userId: string) => {
      const res = await adminClient().call<{ id: string; api_key: string; prefix: string }>(
        'POST',
        `/v1/admin/users/${encodeURIComponent(userId)}/keys`,
      );
      if (globals().json) return printJson(res.body);
      print(`key ${res.body.id}\napi key (shown once): ${res.body.api_key}`);
    });

  command('import')
    .description(
      'import a folder of Markdown notes (an Obsidian vault works): front-matter title and tags, nested folders; importing again updates changed notes only',
    )
    .argument('<folder>', 'the folder to import')
    .addOption(
      new Option('--batch-size <n>', 'notes per request (at most 100)').argParser(positiveInt).default(100),
    )
    .option('--no-wait', 'return once the notes are sent, without waiting for indexing')
    .addOption(
      new Option('--wait-timeout <seconds>', 'longest wait for indexing').argParser(positiveInt).default(600),
    )
    .action(async (folder: string, options: { batchSize: number; wait: boolean; waitTimeout: number }) => {
      const bar = globals().json ? undefined : createImportBar(io);
      let started = false;
      const summary = await importNotes(
        userClient(),
        folder,
        {
          batchSize: options.batchSize,
          wait: options.wait,
          waitTimeoutMs: options.waitTimeout * 1000,
          pollMs: 500,
        },
        (progress: ImportProgress) => {
          if (!bar) return;
          const payload = {
            phase: progress.phase,
            sent: progress.sent,
            indexed: progress.indexed,
            failed: progress.failed,
          };
          if (!started) {
            bar.start(progress.total, 0, payload);
            started = true;
          }
          bar.update(progress.phase === 'sending' ? progress.sent : progress.indexed, payload);
          if (progress.phase === 'done') bar.stop();
        },
      ).finally(() => bar?.stop());
      if (globals().json) printJson(summary);
      else print(formatImportSummary(summary));
      // Still pending is a failure only when the import waited for indexing (and ran out of time).
      if (summary.failed.length > 0 || (options.wait && summary.pending > 0)) process.exitCode = EXIT.failed;
    });

  command('ask')
    .description('ask a question: the answer streams in as it is written, then the notes it cites')
    .argument('<question>', 'the question, quoted')
    .action(async (question: string) => {
      const json = globals().json;
      const result = await askQuestion(userClient(), question, {
        token: (text) => {
          if (!json) io.stdout.write(text);
        },
        notice: (text) => io.stderr.write(text),
      });
      if (json) return printJson(result);
      print(
        `\n\n${formatSources(result.sources)}\n(${result.cached ? 'cached, ' : ''}model ${result.model}, query ${result.id})`,
      );
    });

  command('notes')
    .description('list your notes with their indexing state')
    .addOption(new Option('--limit <n>', 'notes per page (at most 100)').argParser(positiveInt).default(20))
    .option('--cursor <cursor>', 'the next_cursor a previous page printed')
    .action(async (options: { limit: number; cursor?: string }) => {
      const query = new URLSearchParams({
        limit: String(options.limit),
        ...(options.cursor ? { cursor: options.cursor } : {}),
      });
      const res = await userClient().call<{
        data: Parameters<typeof formatNotes>[0];
        next_cursor: string | null;
      }>('GET', `/v1/notes?${query}`);
      if (globals().json) return printJson(res.body);
      print(formatNotes(res.body.data, res.body.next_cursor));
    });

  command('usage')
    .description('your spend, tokens and queries per day, and what is left of each limit')
    .option('--from <day>', 'first day, YYYY-MM-DD (default: 6 days before --to)')
    .option('--to <day>', 'last day, YYYY-MM-DD (default: today, UTC)')
    .action(async (options: { from?: string; to?: string }) => {
      const query = new URLSearchParams({
        ...(options.from ? { from: options.from } : {}),
        ...(options.to ? { to: options.to } : {}),
      });
      const res = await userClient().call<Parameters<typeof formatUsage>[0]>('GET', `/v1/usage?${query}`);
      if (globals().json) return printJson(res.body);
      print(formatUsage(res.body));
    });

  command('whoami')
    .description('who the API key belongs to')
    .action(async () => {
      const res = await userClient().call<{ user_id: string; tier: string; key_id: string }>('GET', '/v1/me');
      if (globals().json) return printJson(res.body);
      print(`user ${res.body.user_id} (${res.body.tier}), key ${res.body.key_id}, at ${globals().url}`);
    });

  return program;
}

/** The import's progress bar (on stderr); off a terminal it prints a line now and then instead. */
function createImportBar(io: ProgramIo): SingleBar {
  return new SingleBar({
    stream: io.stderr as NodeJS.WriteStream,
    format: 'import [{bar}] {value}/{total} {phase} | sent {sent} | indexed {indexed} | failed {failed}',
    noTTYOutput: !io.isTTY,
    notTTYSchedule: 1000,
    hideCursor: io.isTTY,
    clearOnComplete: false,
  });
}
