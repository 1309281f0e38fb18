export type { AnswerQueue, AnswerQueueOptions } from './answer-queue.ts';
export { createAnswerQueue } from './answer-queue.ts';
export type { EventStream, EventStreamOptions, StoredEvent } from './event-stream.ts';
export { createEventStream, STREAM_ID } from './event-stream.ts';
export type { Keys } from './keys.ts';
export { createKeys, QUEUE_NAMES } from './keys.ts';
export type { RedisRole } from './redis.ts';
export { createRedis, waitForRedis } from './redis.ts';
