// `assistant` (also `npm run cli -- …`): the command line of the service. It talks to a running
// API over HTTP, a user's commands with ASSISTANT_API_KEY (or --key), the admin ones with
// ADMIN_TOKEN. Exit codes: 0 ok, 1 the operation failed, 2 the command line is wrong.
import { CommanderError } from 'commander';
import { CliError, EXIT } from './cli-error.ts';
import { buildProgram } from './program.ts';

const program = buildProgram({
  stdout: process.stdout,
  stderr: process.stderr,
  isTTY: Boolean(process.stderr.isTTY),
});

program.parseAsync(process.argv).then(
  () => process.exit(process.exitCode ?? EXIT.ok),
  (error: unknown) => {
    if (error instanceof CommanderError) {
      // Commander has printed the message (or the help) already.
      process.exit(error.exitCode === 0 ? EXIT.ok : EXIT.usage);
    }
    if (error instanceof CliError) {
      process.stderr.write(`error: ${error.message}\n`);
      process.exit(error.exitCode);
    }
    // A bug, not a user error: the stack helps whoever reports it.
    process.stderr.write(
      `unexpected failure: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(EXIT.failed);
  },
);
