import type { ExperimentStatus, ExperimentVariant } from '@assistant/contracts';
import { and, desc, eq, inArray, sql } from 'drizzle-orm';
import type { Database } from './client.ts';
import { type ExperimentRow, experiments } from './schema.ts';

/** One variant's figures over an experiment's queries. */
export type VariantFigures = {
  variant: string;
  queries: number;
  succeeded: number;
  /** Mean quality score of the scored queries; null when none is scored. */
  meanQuality: number | null;
  scored: number;
  /** Queries with feedback, and of those thumbs-up. */
  rated: number;
  thumbsUp: number;
  /** Sum of the ledger's cost of the variant's queries, micro-dollars, and how many have an entry. */
  costMicros: number;
  costed: number;
  /** 95th percentile of time from submit to finish, ms, over finished queries; null when none. */
  p95LatencyMs: number | null;
};

/** Why a state change was refused. */
export type TransitionRefusal = 'not_found' | 'wrong_state' | 'conflict';

/** A state change's outcome. */
export type TransitionResult = { ok: true; row: ExperimentRow } | { ok: false; reason: TransitionRefusal };

function isUniqueViolation(error: unknown): boolean {
  const code =
    (error as { code?: string; cause?: { code?: string } })?.code ??
    (error as { cause?: { code?: string } })?.cause?.code;
  return code === '23505';
}

/** Experiments: definitions and lifecycle, and the figures of their queries. */
export function createExperimentsRepo(db: Database) {
  async function transition(
    id: string,
    from: ExperimentStatus[],
    set: Partial<typeof experiments.$inferInsert>,
  ): Promise<TransitionResult> {
    try {
      const rows = await db
        .update(experiments)
        .set(set)
        .where(and(eq(experiments.id, id), inArray(experiments.status, from)))
        .returning();
      if (rows[0]) return { ok: true, row: rows[0] };
    } catch (error) {
      // The partial unique index: another experiment is running (or promoted) already.
      if (isUniqueViolation(error)) return { ok: false, reason: 'conflict' };
      throw error;
    }
    const found = await db.select({ id: experiments.id }).from(experiments).where(eq(experiments.id, id));
    return { ok: false, reason: found[0] ? 'wrong_state' : 'not_found' };
  }

  return {
    async create(input: { id: string; name: string; variants: ExperimentVariant[] }): Promise<ExperimentRow> {
      const rows = await db.insert(experiments).values(input).returning();
      return rows[0]!;
    },

    async find(id: string): Promise<ExperimentRow | undefined> {
      const rows = await db.select().from(experiments).where(eq(experiments.id, id)).limit(1);
      return rows[0];
    },

    async list(limit: number): Promise<ExperimentRow[]> {
      return db.select().from(experiments).orderBy(desc(experiments.createdAt)).limit(limit);
    },

    /** The running experiment and the promoted one (the default), what assignment reads. */
    async active(): Promise<ExperimentRow[]> {
      return db
        .select()
        .from(experiments)
        .where(inArray(experiments.status, ['running', 'promoted']));
    },

    /** draft or stopped → running (a stopped one resumes; its start stays). At most one runs. */
    start(id: string): Promise<TransitionResult> {
      return transition(id, ['draft', 'stopped'], {
        status: 'running',
        startedAt: sql`coalesce(${experiments.startedAt}, now())` as unknown as Date,
        stoppedAt: null,
      });
    },

    /** running → stopped. */
    stop(id: string): Promise<TransitionResult> {
      return transition(id, ['running'], { status: 'stopped', stoppedAt: sql`now()` as unknown as Date });
    },

    /**
     * running or stopped → promoted with `winner`: its prompt and model become the default for
     * everyone; an earlier promoted experiment is retired in the same transaction.
     */
    async promote(id: string, winner: string): Promise<TransitionResult> {
      return db.transaction(async (tx) => {
        const current = await tx.select().from(experiments).where(eq(experiments.id, id)).for('update');
        const row = current[0];
        if (!row) return { ok: false, reason: 'not_found' } as const;
        if (row.status !== 'running' && row.status !== 'stopped')
          return { ok: false, reason: 'wrong_state' } as const;
        await tx
          .update(experiments)
          .set({ status: 'retired' })
          .where(and(eq(experiments.status, 'promoted')));
        const rows = await tx
          .update(experiments)
          .set({
            status: 'promoted',
            winner,
            stoppedAt: sql`coalesce(${experiments.stoppedAt}, now())` as unknown as Date,
          })
          .where(eq(experiments.id, id))
          .returning();
        return { ok: true, row: rows[0]! } as const;
      });
    },

    /**
     * Per variant, over the queries recorded under the experiment while it ran (from its start
     * to its stop): counts, mean quality score, feedback, ledger cost and p95 latency.
     */
    async figures(id: string): Promise<VariantFigures[]> {
      const rows = await db.execute<{
        variant: string;
        queries: number;
        succeeded: number;
        mean_quality: number | null;
        scored: number;
        rated: number;
        thumbs_up: number;
        cost_micros: string;
        costed: number;
        p95_ms: number | null;
      }>(sql`
        select q.experiment_variant as variant,
          count(*)::int as queries,
          count(*) filter (where q.status = 'succeeded')::int as succeeded,
          avg(q.quality_score)::float8 as mean_quality,
          count(q.quality_score)::int as scored,
          count(f.query_id)::int as rated,
          count(*) filter (where f.rating = 'up')::int as thumbs_up,
          coalesce(sum(l.cost_micros), 0)::bigint as cost_micros,
          count(l.query_id)::int as costed,
          (percentile_cont(0.95) within group (
            order by extract(epoch from (q.finished_at - q.created_at)) * 1000
          ) filter (where q.finished_at is not null))::float8 as p95_ms
        from queries q
        join experiments e on e.id = q.experiment_id
        left join query_feedback f on f.query_id = q.id
        left join cost_ledger l on l.query_id = q.id
        where q.experiment_id = ${id}
          and q.created_at >= e.started_at
          and (e.stopped_at is null or q.created_at <= e.stopped_at)
        group by q.experiment_variant`);
      return rows.map((r) => ({
        variant: r.variant,
        queries: r.queries,
        succeeded: r.succeeded,
        meanQuality: r.mean_quality,
        scored: r.scored,
        rated: r.rated,
        thumbsUp: r.thumbs_up,
        costMicros: Number(r.cost_micros),
        costed: r.costed,
        p95LatencyMs: r.p95_ms,
      }));
    },
  };
}

/** The experiments repository's interface. */
export type ExperimentsRepo = ReturnType<typeof createExperimentsRepo>;
