import type { FeedbackRating } from '@assistant/contracts';
import { and, desc, eq, lt, sql } from 'drizzle-orm';
import type { Database } from './client.ts';
import { type FeedbackRow, queryFeedback } from './schema.ts';

/** Feedback on queries: one row per query, replaced by a later rating of the same query. */
export function createFeedbackRepo(db: Database) {
  return {
    /**
     * Stores a user's rating of a query (insert, or update of the earlier one). Returns the row
     * and the rating it replaced (`undefined` for a first rating).
     */
    async upsert(input: {
      queryId: string;
      userId: string;
      rating: FeedbackRating;
      comment: string | null;
    }): Promise<{ row: FeedbackRow; previous: FeedbackRating | undefined }> {
      // The earlier rating is read in the same statement: `xmax <> 0` marks an updated row, and
      // the old value comes from a CTE that sees the table as it was before the upsert.
      const rows = await db.execute<{
        query_id: string;
        user_id: string;
        rating: FeedbackRating;
        comment: string | null;
        created_at: string;
        updated_at: string;
        previous: FeedbackRating | null;
      }>(sql`
        with before as (select rating from ${queryFeedback} where query_id = ${input.queryId})
        insert into ${queryFeedback} (query_id, user_id, rating, comment)
        values (${input.queryId}, ${input.userId}, ${input.rating}, ${input.comment})
        on conflict (query_id) do update
          set rating = excluded.rating, comment = excluded.comment, updated_at = now()
        returning query_id, user_id, rating, comment, created_at, updated_at,
          (select rating from before) as previous`);
      const r = rows[0]!;
      return {
        row: {
          queryId: r.query_id,
          userId: r.user_id,
          rating: r.rating,
          comment: r.comment,
          createdAt: new Date(r.created_at),
          updatedAt: new Date(r.updated_at),
        },
        previous: r.previous ?? undefined,
      };
    },

    /** The feedback on one query. */
    async find(queryId: string): Promise<FeedbackRow | undefined> {
      const rows = await db.select().from(queryFeedback).where(eq(queryFeedback.queryId, queryId)).limit(1);
      return rows[0];
    },

    /** Recent feedback, newest change first, optionally of one rating; `before` pages on. */
    async list(options: { rating?: FeedbackRating; before?: Date; limit: number }): Promise<FeedbackRow[]> {
      return db
        .select()
        .from(queryFeedback)
        .where(
          and(
            options.rating ? eq(queryFeedback.rating, options.rating) : undefined,
            options.before ? lt(queryFeedback.updatedAt, options.before) : undefined,
          ),
        )
        .orderBy(desc(queryFeedback.updatedAt))
        .limit(options.limit);
    },
  };
}

/** The feedback repository's interface. */
export type FeedbackRepo = ReturnType<typeof createFeedbackRepo>;
