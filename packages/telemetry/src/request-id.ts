import { randomUUID } from 'node:crypto';

const SANE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** A caller's request id if it is safe to log and echo, else a fresh one. */
export function pickRequestId(
  candidate: string | undefined | null,
  newId: () => string = randomUUID,
): string {
  return candidate && SANE_ID.test(candidate) ? candidate : newId();
}
