/** The API's `assistant_overload_refusals_total` by `reason`, read from its `/metrics`. */
export type RefusalReasons = Record<string, number>;

const LINE = /^assistant_overload_refusals_total\{([^}]*)\}\s+(\S+)/;

/** Sums the counter's samples by their `reason` label (other labels, such as a process's, folded). */
export function parseRefusalReasons(metricsText: string): RefusalReasons {
  const out: RefusalReasons = {};
  for (const line of metricsText.split('\n')) {
    const match = LINE.exec(line);
    if (!match) continue;
    const reason = /(?:^|,)reason="([^"]*)"/.exec(match[1]!)?.[1] ?? 'unknown';
    out[reason] = (out[reason] ?? 0) + Number(match[2]);
  }
  return out;
}

/** Reads the counts now; undefined when `/metrics` cannot be read (a run must not fail on it). */
export async function readRefusalReasons(apiUrl: string): Promise<RefusalReasons | undefined> {
  try {
    const res = await fetch(`${apiUrl}/metrics`, { signal: AbortSignal.timeout(5_000) });
    return res.ok ? parseRefusalReasons(await res.text()) : undefined;
  } catch {
    return undefined;
  }
}

/** What was counted between two readings, reasons with none left out. */
export function refusalsBetween(before: RefusalReasons, after: RefusalReasons): RefusalReasons {
  const out: RefusalReasons = {};
  for (const [reason, n] of Object.entries(after)) {
    const delta = n - (before[reason] ?? 0);
    if (delta > 0) out[reason] = delta;
  }
  return out;
}
