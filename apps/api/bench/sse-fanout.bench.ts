// Benchmark: SSE fan-out, events per second delivered to N open streams of one API process,
// against a bare loop that XREADs the same Redis Streams directly; with the API process's RSS and
// its Redis connections while the N streams are open (target 7: 10,000 streams on ≤ 4 Redis
// connections under 500 MB RSS).
//
// A real API process (startStack, no worker: the queries stay queued, their streams open). N
// streams follow N / 10 queries (ten clients per query). This process appends `token` events to
// those queries' streams with the worker's own append (createEventStream: the guarded-append Lua,
// which PUBLISHes the entry id), ROUNDS times to each query, as fast as Redis takes them; the API
// relays them through its one stream reader. Delivered = events received by all clients; rate =
// delivered / time from the first append to the last delivery; the API's CPU time (user +
// system) over that interval per delivered event counts where wall time wobbles on a shared host.
// The bare loop: one connection, XREAD BLOCK over the same query streams, counting each entry
// once per client (ten), with the same appends running; no HTTP, no fan-out: the floor. Clients
// are raw node:http requests in this process, which shares its event loop with the appender
// (both runs alike).
//
// RSS is VmRSS of the API process; Redis connections are its TCP connections to Redis (`ss -tnp`
// by pid), named from CLIENT LIST. With the N streams open and idle (before the appends), the
// API's memory is also split as its own /metrics reports it: V8 heap used and total, and
// `external` (outside the V8 heap: Buffers, ArrayBuffers); "KB per stream" is (open-idle RSS -
// RSS just before opening them) / N.
//
// Run: npm run bench -w @assistant/api, or
//   npx tsx apps/api/bench/sse-fanout.bench.ts [--quick] [--sizes=1000,10000] [--built] [--heap-snapshots]
// --built: the API as the image runs it, `node apps/api/dist/main.js` (`npm run build` first);
// under tsx (keepNames) every named closure carries a property store of its own.
// --heap-snapshots: the API writes a V8 heap snapshot (Heap.*.heapsnapshot, repo root) when idle
// and at each N open, to find where a stream's memory goes.
// 10,000 streams need `ulimit -n` of at least ~10,100: each of the two processes holds one end.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { createEventStream, createKeys } from '@assistant/queue';
import { mapConcurrent, sampleValue, startStack, waitUntil } from '@assistant/testing';
import { printTable, QUICK } from './measure.ts';

const sizesArg = process.argv.find((arg) => arg.startsWith('--sizes='));
const SIZES = sizesArg
  ? sizesArg
      .slice('--sizes='.length)
      .split(',')
      .map((n) => Number(n))
  : QUICK
    ? [100, 1_000]
    : [100, 1_000, 10_000];
const CLIENTS_PER_QUERY = 10;
const roundsFor = (n: number) => Math.min(200, Math.max(10, Math.round(200_000 / n)));
const TARGET = { streams: 10_000, redisConnections: 4, rssMb: 500 };
const UNLIMITED = 1_000_000_000;
const largest = SIZES.at(-1)!;
const BUILT = process.argv.includes('--built');
const SNAPSHOTS = process.argv.includes('--heap-snapshots');

const stack = await startStack(
  'sse_fanout_bench',
  {
    TIERS_JSON: JSON.stringify({
      internal: { perMinute: UNLIMITED, perHour: UNLIMITED, perDay: UNLIMITED, maxInFlight: 1_000_000 },
    }),
    GLOBAL_QUERIES_PER_HOUR: String(UNLIMITED),
  },
  { workers: 0, built: BUILT, nodeArgs: SNAPSHOTS ? ['--heapsnapshot-signal=SIGUSR2'] : [] },
);
const redis = stack.redis.redis;
const keys = createKeys(stack.redis.prefix);
const events = createEventStream(redis, keys, { ttlSeconds: 3_600 });
const apiPid = stack.api.child.pid!;
const agent = new http.Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY });

/** CPU time (user + system) of the API process so far, in ms (/proc/<pid>/stat, 100 ticks/s). */
function apiCpuMs(): number {
  const fields = readFileSync(`/proc/${apiPid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function rssMb(): number {
  const kb = readFileSync(`/proc/${apiPid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/)?.[1];
  return Number(kb) / 1024;
}

/** The API process's connections to Redis, with their CLIENT LIST names. */
async function apiRedisConnections(): Promise<string[]> {
  const redisPort = new URL(stack.redis.url).port || '6379';
  const ss = execFileSync('ss', ['-Htnp', 'state', 'established', `( dport = :${redisPort} )`], {
    encoding: 'utf8',
  });
  const local = ss
    .split('\n')
    .filter((line) => line.includes(`pid=${apiPid},`))
    .map((line) => line.trim().split(/\s+/)[2]!);
  const clients = ((await redis.client('LIST')) as string)
    .split('\n')
    .map((line) => ({ addr: line.match(/addr=(\S+)/)?.[1], name: line.match(/name=(\S*)/)?.[1] }));
  return local.map((addr) => clients.find((c) => c.addr === addr)?.name || '(unnamed)');
}

/** The API's own view of its memory (MB), from its /metrics: V8 heap used and total, and `external`. */
async function apiMemory(): Promise<{ heapUsed: number; heapTotal: number; external: number }> {
  const text = await (await fetch(`${stack.api.url}/metrics`)).text();
  const mb = (name: string) => (sampleValue(text, name) ?? Number.NaN) / 1024 / 1024;
  return {
    heapUsed: mb('nodejs_heap_size_used_bytes'),
    heapTotal: mb('nodejs_heap_size_total_bytes'),
    external: mb('nodejs_external_memory_bytes'),
  };
}

/** Has the API write a heap snapshot; it is written on the main thread, so /metrics answers after. */
async function heapSnapshot(what: string): Promise<void> {
  process.kill(apiPid, 'SIGUSR2');
  await new Promise((r) => setTimeout(r, 1_000));
  await fetch(`${stack.api.url}/metrics`, { signal: AbortSignal.timeout(300_000) });
  console.log(`heap snapshot of the API written: ${what}`);
}

type Client = { tokens: number; close(): void };

function openStream(queryId: string, apiKey: string): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client: Client = { tokens: 0, close: () => request.destroy() };
    const request = http.get(
      `${stack.api.url}/v1/queries/${queryId}/events`,
      { agent, headers: { authorization: `Bearer ${apiKey}` } },
      (res) => {
        if (res.statusCode !== 200) reject(new Error(`events: ${res.statusCode}`));
        let carry = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          const text = carry + chunk;
          // The `retry:` line comes first: the stream is open and following.
          if (text.includes('retry:')) resolve(client);
          client.tokens += text.split('event: token\n').length - 1;
          carry = text.slice(-12);
          if (carry.includes('event: token\n')) carry = '';
        });
        res.on('error', () => {});
      },
    );
    request.on('error', (error) => reject(error));
  });
}

async function appendRounds(queryIds: string[], rounds: number): Promise<void> {
  for (let r = 0; r < rounds; r++) {
    await Promise.all(queryIds.map((id) => events.append(id, { type: 'token', text: `t${r} ` })));
  }
}

/** One connection XREADing every query stream, counting each entry once per client. */
async function bareXread(queryIds: string[], rounds: number): Promise<number> {
  const reader = redis.duplicate();
  const lastIds = await Promise.all(
    queryIds.map(
      async (id) =>
        ((await redis.xrevrange(keys.events(id), '+', '-', 'COUNT', 1)) as [string, string[]][])[0]?.[0] ??
        '0',
    ),
  );
  const index = new Map(queryIds.map((id, i) => [keys.events(id), i]));
  const expected = queryIds.length * rounds;
  let read = 0;
  const started = performance.now();
  const appending = appendRounds(queryIds, rounds);
  while (read < expected) {
    // XREAD takes many keys at once; 1,000 per call keeps each reply small.
    for (let from = 0; from < queryIds.length; from += 1_000) {
      const slice = queryIds.slice(from, from + 1_000);
      const reply = (await reader.xread(
        'COUNT',
        1_000,
        'BLOCK',
        50,
        'STREAMS',
        ...slice.map((id) => keys.events(id)),
        ...slice.map((_, i) => lastIds[from + i]!),
      )) as [string, [string, string[]][]][] | null;
      for (const [key, entries] of reply ?? []) {
        const i = index.get(key)!;
        lastIds[i] = entries.at(-1)![0];
        read += entries.length;
      }
    }
  }
  const seconds = (performance.now() - started) / 1000;
  await appending;
  reader.disconnect();
  return (read * CLIENTS_PER_QUERY) / seconds;
}

try {
  const { api_key } = await stack.createUser('internal');
  const idleRss = rssMb();
  if (SNAPSHOTS) await heapSnapshot('idle');
  const idleConnections = await apiRedisConnections();
  console.log(
    `sse-fanout.bench: Node ${process.version}; one API process (pid ${apiPid}, ${BUILT ? 'dist/main.js' : 'tsx'}); N streams over N/${CLIENTS_PER_QUERY} ` +
      `queries; ulimit -n ${execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim()}; ` +
      `idle API RSS ${idleRss.toFixed(0)} MB, Redis connections ${idleConnections.length} (${idleConnections.join(', ')})`,
  );
  // Queries made once, for the largest N; smaller N use the first of them.
  const queryIds = await mapConcurrent(
    Array.from({ length: largest / CLIENTS_PER_QUERY }, (_, i) => i),
    8,
    async (i) => {
      const res = await fetch(`${stack.api.url}/v1/queries`, {
        method: 'POST',
        headers: { authorization: `Bearer ${api_key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ query: `Fan-out benchmark question ${i}` }),
      });
      if (res.status !== 202) throw new Error(`submit: ${res.status} ${await res.text()}`);
      return ((await res.json()) as { id: string }).id;
    },
  );

  const rows: (string | number)[][] = [
    [
      'N streams',
      'rounds',
      'delivered',
      'SSE events/s',
      'API CPU µs/event',
      'bare XREAD events/s',
      'SSE ÷ bare',
      'API RSS MB',
      'API Redis conns',
      'open idle: RSS MB',
      'heap used / total MB',
      'external MB',
      'KB per stream',
    ],
  ];
  let atLargest: { rss: number; connections: string[] } | undefined;
  for (const n of SIZES) {
    const ids = queryIds.slice(0, n / CLIENTS_PER_QUERY);
    const rounds = roundsFor(n);
    const rssBeforeOpen = rssMb();
    const opened = await mapConcurrent(
      Array.from({ length: n }, (_, i) => ids[i % ids.length]!),
      200,
      (id) => openStream(id, api_key),
    );
    // Settle (timers, GC) before reading the idle-open figures.
    await new Promise((r) => setTimeout(r, 2_000));
    const openRss = rssMb();
    const openMemory = await apiMemory();
    if (SNAPSHOTS) await heapSnapshot(`${n} streams open`);
    const expected = n * rounds;
    const before = opened.reduce((a, c) => a + c.tokens, 0);
    const started = performance.now();
    const cpuBefore = apiCpuMs();
    await appendRounds(ids, rounds);
    await waitUntil(() => opened.reduce((a, c) => a + c.tokens, 0) - before >= expected, {
      what: `${expected} events delivered to ${n} streams`,
      timeoutMs: 60_000,
    });
    const sseRate = expected / ((performance.now() - started) / 1000);
    const cpuPerEvent = ((apiCpuMs() - cpuBefore) * 1000) / expected;
    const rss = rssMb();
    const connections = await apiRedisConnections();
    if (n === largest) atLargest = { rss, connections };
    for (const client of opened) client.close();
    const bareRate = await bareXread(ids, rounds);
    rows.push([
      String(n),
      String(rounds),
      String(expected),
      sseRate.toFixed(0),
      cpuPerEvent.toFixed(1),
      bareRate.toFixed(0),
      sseRate / bareRate,
      rss.toFixed(0),
      String(connections.length),
      openRss.toFixed(0),
      `${openMemory.heapUsed.toFixed(0)} / ${openMemory.heapTotal.toFixed(0)}`,
      openMemory.external.toFixed(0),
      (((openRss - rssBeforeOpen) * 1024) / n).toFixed(1),
    ]);
    await new Promise((r) => setTimeout(r, 1_000));
  }
  printTable(rows);
  if (atLargest) {
    const { rss, connections } = atLargest;
    console.log(`API Redis connections at ${largest} open streams: ${connections.join(', ')}`);
    const met =
      largest >= TARGET.streams && connections.length <= TARGET.redisConnections && rss < TARGET.rssMb;
    console.log(
      `target 7 (${TARGET.streams} open streams, ≤ ${TARGET.redisConnections} Redis connections, < ${TARGET.rssMb} MB RSS): ` +
        `${met ? 'met' : largest < TARGET.streams ? `not measured (largest N here ${largest}; run without --quick)` : 'NOT met'} ` +
        `(${largest} streams: ${connections.length} connections, ${rss.toFixed(0)} MB)`,
    );
  }
} finally {
  agent.destroy();
  await stack.stop();
  console.log('cleaned up: API stopped, Redis prefix and database removed');
}
