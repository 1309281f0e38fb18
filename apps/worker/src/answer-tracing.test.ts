import type { AnswerJob } from '@assistant/contracts';
import type { QueryRow } from '@assistant/db';
import { createLogger, createMetrics, startTracing, type Tracing, withSpan } from '@assistant/telemetry';
import { type OtlpReceiver, startOtlpReceiver } from '@assistant/testing';
import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAnswerProcessor } from './answer-processor.ts';

// The processor's spans, in process, exported to a real OTLP/JSON receiver: a retried job's
// attempts are siblings under the submitting request's span, each with its attempt number.
// Its collaborators are small in-memory fakes; the pipeline opens one step span.

const TRACE = '5bf92f3577b34da6a3ce929d0e0e4737';
const API_SPAN = '10f067aa0ba902b8';

let receiver: OtlpReceiver;
let tracing: Tracing;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  // The Node SDK reads its exporter's settings from the process environment, as in the apps.
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.url;
  process.env.OTEL_EXPORTER_OTLP_PROTOCOL = 'http/json';
  tracing = await startTracing({ enabled: true, serviceName: 'assistant-worker' });
});
afterAll(async () => {
  await receiver?.close();
});

function processorFor(failFirst: { remaining: number }) {
  return createAnswerProcessor({
    pipeline: {
      run: () =>
        withSpan('assistant.embed', async () => {
          if (failFirst.remaining-- > 0) throw new Error('transient');
          return { cache: 'miss' as const };
        }),
      reconcile: async () => {},
    },
    queries: {
      find: async () => undefined,
      markRunning: async (id, userId) => ({ id, userId, query: 'a question' }) as QueryRow,
      markFailed: async () => true,
    },
    events: { append: async () => '1-1' },
    runSlots: { acquire: async () => true, renew: async () => true, release: async () => {} },
    admission: { release: async () => {} },
    budget: { settle: async () => ({ settled: true }) as never },
    singleFlight: { release: async () => true },
    metrics: createMetrics('worker'),
    logger: createLogger({ service: 'worker', level: 'silent' }),
    now: Date.now,
    random: () => 0.5,
    flags: { enabled: (name, userId) => !(name === 'tracing' && userId === 'u_quiet') },
    options: { runSlotLeaseMs: 30_000, runSlotRetryMs: 500, databaseOutageMaxWaitMs: 600_000 },
  });
}

function jobOf(queryId: string, userId: string, attemptsMade: number): Job {
  const data: AnswerJob = {
    query_id: queryId,
    user_id: userId,
    request_id: 'r_1',
    tier: 'free',
    limits: { maxRunning: 1, dailyBudgetMicros: 1_000_000 },
    bypass_cache: false,
    trace: { traceparent: `00-${TRACE}-${API_SPAN}-01` },
    enqueued_at: Date.now(),
  };
  return { id: queryId, data, attemptsMade, opts: { attempts: 3 }, timestamp: Date.now() } as unknown as Job;
}

describe('answer job spans', () => {
  it("shows a retried job's attempts as siblings under the API's span, and nothing for a user with tracing off", async () => {
    const processor = processorFor({ remaining: 1 });
    // BullMQ runs attempt 1, which fails and is retried (attemptsMade 1), then attempt 2.
    await expect(processor.processAnswerJob(jobOf('q_1', 'u_1', 0))).rejects.toThrow('transient');
    await processor.processAnswerJob(jobOf('q_1', 'u_1', 1));
    await processor.processAnswerJob(jobOf('q_2', 'u_quiet', 0));
    await tracing.shutdown();

    const spans = receiver.spans();
    const attempts = spans
      .filter((s) => s.name === 'assistant.answer')
      .sort((a, b) => Number(a.attributes.attempt) - Number(b.attributes.attempt));
    expect(
      attempts.map((s) => [s.traceId, s.parentSpanId, s.attributes.attempt, s.attributes.retry]),
    ).toEqual([
      [TRACE, API_SPAN, 1, false],
      [TRACE, API_SPAN, 2, true],
    ]);
    expect(attempts.map((s) => [s.attributes.outcome, s.statusCode])).toEqual([
      ['retried', 2],
      ['succeeded', 0],
    ]);
    expect(attempts[0]!.attributes).toMatchObject({ query_id: 'q_1', user_id: 'u_1', tier: 'free' });
    const steps = spans.filter((s) => s.name === 'assistant.embed');
    expect(steps.map((s) => s.parentSpanId).sort()).toEqual(attempts.map((s) => s.spanId).sort());
    // The quiet user's job: no span at all.
    expect(
      spans.filter((s) => s.attributes.user_id === 'u_quiet' || s.attributes.query_id === 'q_2'),
    ).toEqual([]);
    expect(spans).toHaveLength(4);
  });
});
