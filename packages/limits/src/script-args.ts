/** The optional time override the scripts take as their last argument ('' = Redis TIME). */
export function timeArg(now: (() => number) | undefined): string {
  return now ? String(Math.floor(now())) : '';
}

/** Throws unless `value` is a non-negative safe integer (money and counts are never fractional). */
export function assertCount(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
  }
}
