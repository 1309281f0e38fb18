/**
 * One submit's commit-or-cancel decision, taken once. The submit calls `commit()` right before its
 * commit step (the job enqueue, or the point after a cached answer's row and ledger entry); the
 * deadline calls `cancel()`.
 * Whichever comes first wins: a cancelled submit withdraws what it wrote when it reaches its
 * commit step (however late its hung dependency answers), and a deadline that finds a commit
 * under way waits for its outcome instead of answering 503 for a question that may be accepted.
 */
export function createCommitGate() {
  let state: 'open' | 'committing' | 'cancelled' = 'open';
  return {
    /** `false` when the deadline already refused this submit: withdraw instead of committing. */
    commit(): boolean {
      if (state === 'cancelled') return false;
      state = 'committing';
      return true;
    },
    /** `false` when a commit step is under way: its outcome is the answer. */
    cancel(): boolean {
      if (state === 'committing') return false;
      state = 'cancelled';
      return true;
    },
  };
}

/** The gate's interface. */
export type CommitGate = ReturnType<typeof createCommitGate>;
