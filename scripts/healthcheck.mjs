#!/usr/bin/env node
// healthcheck.mjs: the image's HEALTHCHECK. Exit 0 when this container's app answers /healthz.
//
// Contract
//   Env:   PORT (the API, 3000) and WORKER_PORT (a worker's health server, 3001); a container
//          runs one of the two, so the check passes when either answers 200 within 2 s.
//   Exit:  0 healthy, 1 not (with the reason on stderr).
const ports = [process.env.PORT ?? '3000', process.env.WORKER_PORT ?? '3001'];
const results = await Promise.allSettled(
  ports.map(async (port) => {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2000) });
    if (!res.ok) throw new Error(`port ${port}: ${res.status}`);
  }),
);
if (results.some((r) => r.status === 'fulfilled')) process.exit(0);
console.error(
  results.map((r) => (r.status === 'rejected' ? String(r.reason?.message ?? r.reason) : '')).join('; '),
);
process.exit(1);
