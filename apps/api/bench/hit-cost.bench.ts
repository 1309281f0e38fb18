// Benchmark: what one exact-cache hit costs the API process, without HTTP: CPU time per hit
// (process.cpuUsage over N sequential hits, the served-hits writer's batches included, as they
// run in the same process) and socket writes per hit to Redis and to Postgres (each write is a
// system call and, on the request path, a round trip). Counts hold where wall time wobbles on a
// shared host. The app is built exactly as main.ts builds it (createTestApp), the user
// internal-tier with limits raised so admission never refuses; one note, cited by the answer.
//
// Run: npx tsx apps/api/bench/hit-cost.bench.ts [--quick]   (REDIS_URL, DATABASE_URL)
import net from 'node:net';
import { createAnswerCache } from '@assistant/cache';
import { answerSettings } from '@assistant/config';
import { createTestApp } from '../src/test-app.ts';
import { QUICK } from './measure.ts';

const HITS = QUICK ? 1_000 : 3_000;
const WARM_UP = 300;
const COUNTED = 100;
const UNLIMITED = 1_000_000_000;
const t = await createTestApp('hit_cost_bench', {
  env: {
    TIERS_JSON: JSON.stringify({
      internal: { perMinute: UNLIMITED, perHour: UNLIMITED, perDay: UNLIMITED, maxInFlight: 1_000_000 },
    }),
    GLOBAL_QUERIES_PER_HOUR: String(UNLIMITED),
    DATABASE_POOL_SIZE: '10',
    API_KEY_CACHE_TTL_MS: '30000',
  },
});
try {
  const user = await t.createUser('internal');
  const auth = { authorization: `Bearer ${user.api_key}`, 'content-type': 'application/json' };
  const created = await t.app.request('/v1/notes', {
    method: 'POST',
    headers: auth,
    body: JSON.stringify({ title: 'Wifi', body: 'The home wifi password is maple-sunrise-42.' }),
  });
  const note = (await created.json()) as { id: string; version: number };
  const query = 'what is my wifi password?';
  await createAnswerCache(t.redis, t.keys).set({
    state: await t.epochs.readCacheState(user.id, 'internal'),
    query,
    settings: answerSettings(t.config.llm),
    answer: {
      outcome: 'answered',
      answer: 'The home wifi password is maple-sunrise-42. [1]',
      sources: [
        { note_id: note.id, title: 'Wifi', text: 'The home wifi password is maple-sunrise-42.', score: 0.9 },
      ],
      model: t.config.llm.model,
      provider: t.config.llm.provider,
      usage: { prompt_tokens: 120, completion_tokens: 24, total_tokens: 144 },
      cost_usd: 0.000039,
      truncated: false,
    },
    evidence: [{ noteId: note.id, version: note.version }],
    fallback: false,
  });
  const body = JSON.stringify({ query });
  async function hit(): Promise<void> {
    const res = await t.app.request('/v1/queries', { method: 'POST', headers: auth, body });
    if (res.status !== 200) throw new Error(`expected a hit: ${res.status} ${await res.text()}`);
    await res.text();
  }
  for (let i = 0; i < WARM_UP; i++) await hit();

  // Socket writes by destination port, over COUNTED hits and the writer's work that follows.
  const ports = { redis: Number(new URL(t.config.redis.url).port || 6379), postgres: 0 };
  ports.postgres = Number(new URL(t.config.db.url).port || 5432);
  const writes = new Map<number, number>();
  const write = net.Socket.prototype.write;
  net.Socket.prototype.write = function counted(this: net.Socket, ...args: unknown[]) {
    const port = this.remotePort ?? 0;
    writes.set(port, (writes.get(port) ?? 0) + 1);
    return (write as (...a: unknown[]) => boolean).apply(this, args);
  } as typeof write;
  for (let i = 0; i < COUNTED; i++) await hit();
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  net.Socket.prototype.write = write;

  const latencies: number[] = [];
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < HITS; i++) {
    const begin = performance.now();
    await hit();
    latencies.push(performance.now() - begin);
  }
  const wall = performance.now() - started;
  const used = process.cpuUsage(cpu);
  latencies.sort((a, b) => a - b);
  const at = (p: number) => latencies[Math.min(HITS - 1, Math.floor(HITS * p))]!.toFixed(2);
  const perHit = (port: number) => ((writes.get(port) ?? 0) / COUNTED).toFixed(2);
  console.log(
    `hit-cost.bench: ${HITS} sequential hits through app.request (no HTTP), load ${(await import('node:os')).loadavg()[0]!.toFixed(2)}\n` +
      `  p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, mean ${(wall / HITS).toFixed(2)} ms\n` +
      `  CPU ${((used.user + used.system) / 1000 / HITS).toFixed(3)} ms per hit (API process, writer included)\n` +
      `  socket writes per hit: Redis ${perHit(ports.redis)}, Postgres ${perHit(ports.postgres)} ` +
      `(over ${COUNTED} hits and the writer's batches after them)`,
  );
} finally {
  await t.close();
}
