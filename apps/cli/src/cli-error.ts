/** Exit codes: 0 ok, 1 the operation failed, 2 the command line (or the setup it names) is wrong. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/**
 * An error meant for the person at the terminal: its message is printed as is, without a stack
 * trace, and the process exits with `exitCode`.
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failed,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
