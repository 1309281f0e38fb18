export { ErrorBody, ErrorCode } from './errors.ts';
export { AnswerJob } from './jobs.ts';
export { isTerminalEvent, QueryEvent } from './events.ts';
export type { QueryEventType } from './events.ts';
export {
  Answer,
  GetQueryParams,
  MAX_QUERY_CHARS,
  QueryError,
  QueryStatus,
  QueryView,
  Source,
  SubmitAccepted,
  SubmitQuery,
  Usage,
} from './queries.ts';
export { CreatedUser, CreateUser, Tier } from './users.ts';
