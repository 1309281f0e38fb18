export { ErrorBody, ErrorCode } from './errors.ts';
export type { QueryEventType } from './events.ts';
export { isTerminalEvent, QueryEvent } from './events.ts';
export {
  AssignedVariant,
  CreateExperiment,
  ExperimentStatus,
  ExperimentVariant,
  PromoteExperiment,
  PromptRef,
} from './experiments.ts';
export { FeedbackBody, FeedbackRating, FeedbackView, MAX_FEEDBACK_COMMENT_CHARS } from './feedback.ts';
export { FLAG_NAMES, FlagChange, FlagName, FlagPatch, FlagRule, FlagView, MAX_FLAG_USERS } from './flags.ts';
export { AnswerJob } from './jobs.ts';
export {
  IndexNoteJob,
  IndexStatus,
  ListNotesParams,
  MAX_EXTERNAL_ID_CHARS,
  MAX_NOTE_BODY_BYTES,
  MAX_NOTE_TITLE_CHARS,
  MAX_NOTES_PER_BATCH,
  NOTE_ID_PATTERN,
  NoteBatch,
  NoteBatchItem,
  NoteBatchResult,
  NoteInput,
  NoteOutcome,
  NotePatch,
  NoteView,
} from './notes.ts';
export {
  Answer,
  AnswerOutcome,
  AnswerQuality,
  EscalationInfo,
  FallbackInfo,
  GetQueryParams,
  MAX_QUERY_CHARS,
  QueryClass,
  QueryError,
  QueryStatus,
  QueryView,
  Route,
  Source,
  SubmitAccepted,
  SubmitQuery,
  Usage,
} from './queries.ts';
export { IsoDay, isCalendarDay, UsageParams } from './usage.ts';
export {
  ApiKeyId,
  ApiKeyView,
  CreatedApiKey,
  CreatedUser,
  CreateUser,
  LimitsOverride,
  Me,
  RevokedApiKey,
  TIER_NAMES,
  Tier,
  UpdateUser,
  UserId,
} from './users.ts';
