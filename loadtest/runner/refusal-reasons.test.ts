import { describe, expect, it } from 'vitest';
import { parseRefusalReasons, refusalsBetween } from './refusal-reasons.ts';

describe('refusal reasons from /metrics', () => {
  it('sums the counter by reason and ignores every other metric', () => {
    const text = [
      '# HELP assistant_overload_refusals_total Requests refused',
      '# TYPE assistant_overload_refusals_total counter',
      'assistant_overload_refusals_total{reason="backlog_wait",service="api"} 12',
      'assistant_overload_refusals_total{service="api",reason="in_progress"} 3',
      'assistant_overload_refusals_total{reason="backlog_wait",service="api",pid="2"} 5',
      'assistant_queries_total{status="refused"} 20',
    ].join('\n');
    expect(parseRefusalReasons(text)).toEqual({ backlog_wait: 17, in_progress: 3 });
  });

  it('reports what a run added, leaving out reasons that did not move', () => {
    expect(
      refusalsBetween({ backlog: 2, in_progress: 1 }, { backlog: 2, in_progress: 4, backlog_wait: 9 }),
    ).toEqual({ in_progress: 3, backlog_wait: 9 });
  });
});
