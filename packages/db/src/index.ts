export { answerOf, microsToUsd, rowOfAnswer, usageOf } from './answer-of.ts';
export type { ChunksRepo, LexicalHit, NewChunk, StoredChunk } from './chunks-repo.ts';
export { createChunksRepo } from './chunks-repo.ts';
export type { Database, Db, DbOptions } from './client.ts';
export { createDb } from './client.ts';
export type { CostEntry, CostsRepo, DailyUsage } from './costs-repo.ts';
export { createCostsRepo } from './costs-repo.ts';
export type {
  ExperimentsRepo,
  TransitionRefusal,
  TransitionResult,
  VariantFigures,
} from './experiments-repo.ts';
export { createExperimentsRepo } from './experiments-repo.ts';
export type { FeedbackRepo } from './feedback-repo.ts';
export { createFeedbackRepo } from './feedback-repo.ts';
export type {
  GenerationListener,
  GenerationListenerHandlers,
  GenerationListenerOptions,
} from './generation-listener.ts';
export {
  listenToGenerations,
  NOTES_GENERATION_CHANNEL,
  parseGenerationPayload,
} from './generation-listener.ts';
export type { TokenPricing } from './ledger-entry.ts';
export { ledgerEntryOf, utcDay } from './ledger-entry.ts';
export { migrationsFolder, runMigrations } from './migrate.ts';
export type { NoteFields, NoteOutcome, NotePage, NotesRepo, SavedNote } from './notes-repo.ts';
export { bumpGeneration, createNotesRepo } from './notes-repo.ts';
export type { LedgerOf, QueriesRepo, QuerySuccess, ServedQuery } from './queries-repo.ts';
export { createQueriesRepo, servedRowCodec, servedRowOf } from './queries-repo.ts';
export type { ExperimentRow, FeedbackRow, NoteChunkRow, NoteRow, QueryRow, UserRow } from './schema.ts';
export {
  apiKeys,
  costLedger,
  experiments,
  globalDailyCosts,
  noteChunks,
  notes,
  queries,
  queryFeedback,
  userApiCosts,
  users,
} from './schema.ts';
export { terminalEventOf } from './terminal-event.ts';
export type { ApiKeyInfo, KeyOwner, TierName, UsersRepo } from './users-repo.ts';
export { createUsersRepo, generateApiKey, hashApiKey } from './users-repo.ts';
