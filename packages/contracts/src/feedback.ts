import { z } from 'zod';

/** Longest feedback comment accepted, in characters. */
export const MAX_FEEDBACK_COMMENT_CHARS = 2000;

/** A thumbs up or down. */
export const FeedbackRating = z.enum(['up', 'down']);
export type FeedbackRating = z.infer<typeof FeedbackRating>;

/** Body of `POST /v1/queries/:id/feedback`: one per query, a second one replaces the first. */
export const FeedbackBody = z.strictObject({
  rating: FeedbackRating,
  comment: z.string().trim().max(MAX_FEEDBACK_COMMENT_CHARS).optional(),
});
export type FeedbackBody = z.infer<typeof FeedbackBody>;

/** Feedback as stored and shown. */
export const FeedbackView = z.object({
  query_id: z.string(),
  user_id: z.string(),
  rating: FeedbackRating,
  comment: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
});
export type FeedbackView = z.infer<typeof FeedbackView>;
