import type { NoteView, Source } from '@assistant/contracts';
import type { ImportSummary } from './import-notes.ts';

/** The cited notes under an answer. */
export function formatSources(sources: Source[]): string {
  if (sources.length === 0) return 'No notes cited.';
  const lines = sources.map((s, i) => `  [${i + 1}] ${s.title} (${s.note_id}, score ${s.score.toFixed(2)})`);
  return `Cited notes:\n${lines.join('\n')}`;
}

/** The end of an import. */
export function formatImportSummary(s: ImportSummary): string {
  const lines = [
    `imported ${s.folder}: ${s.files} Markdown files (${s.skipped} other files skipped)`,
    `  ${s.created} created, ${s.updated} updated, ${s.unchanged} unchanged`,
    `  ${s.indexed} indexed, ${s.pending} still pending, ${s.failed.length} failed`,
    ...s.failed.map((f) => `  failed: ${f.file}: ${f.error}`),
  ];
  return lines.join('\n');
}

/** A page of notes as a table. */
export function formatNotes(notes: NoteView[], nextCursor: string | null): string {
  if (notes.length === 0) return 'No notes.';
  const lines = notes.map(
    (n) =>
      `${n.id}  ${n.index_status.padEnd(7)}  ${n.title}${n.tags.length ? `  #${n.tags.join(' #')}` : ''}`,
  );
  if (nextCursor) lines.push(`more: --cursor ${nextCursor}`);
  return lines.join('\n');
}

type Window = { limit: number; remaining: number; reset_seconds: number };
type UsageView = {
  from: string;
  to: string;
  tier: string;
  days: { day: string; queries: number; cache_hits: number; cost_usd: number }[];
  totals: {
    queries: number;
    cache_hits: number;
    prompt_tokens: number;
    completion_tokens: number;
    cost_usd: number;
  };
  limits: Record<string, Window>;
  budget: { daily_usd: number; spent_usd: number; remaining_usd: number };
};

/** `GET /v1/usage` as text. */
export function formatUsage(u: UsageView): string {
  const limits = Object.entries(u.limits).map(([name, w]) => `${name} ${w.remaining}/${w.limit}`);
  return [
    `${u.from} to ${u.to} (${u.tier} tier): ${u.totals.queries} queries, ${u.totals.cache_hits} cache hits, ` +
      `${u.totals.prompt_tokens + u.totals.completion_tokens} tokens, $${u.totals.cost_usd.toFixed(6)}`,
    ...u.days.map(
      (d) => `  ${d.day}  ${d.queries} queries, ${d.cache_hits} cached, $${d.cost_usd.toFixed(6)}`,
    ),
    `remaining now: ${limits.join(', ')}; budget $${u.budget.remaining_usd.toFixed(4)} of $${u.budget.daily_usd.toFixed(2)} today`,
  ].join('\n');
}
