import type { ErrorCode } from '@assistant/contracts';
import { UnrecoverableError } from 'bullmq';

/** A failure no retry can fix, with the code clients will see (e.g. `budget_exceeded`). */
export class TerminalError extends UnrecoverableError {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'TerminalError';
  }
}
