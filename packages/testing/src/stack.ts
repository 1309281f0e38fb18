import { createTestDatabase, type TestDatabase } from './database.ts';
import { type ServiceProcess, startService } from './processes.ts';
import { createTestRedis, type TestRedis } from './redis.ts';

/** The admin token every test stack uses. */
export const STACK_ADMIN_TOKEN = 'stack-admin-token-0123456789';

/** A running API and worker over a test file's own Redis prefix and database. */
export type Stack = {
  api: ServiceProcess;
  workers: ServiceProcess[];
  redis: TestRedis;
  database: TestDatabase;
  env: Record<string, string>;
  /** Starts one more worker process with the stack's environment. */
  addWorker(extraEnv?: Record<string, string>): Promise<ServiceProcess>;
  /** Creates a user through the admin API; returns its id and key. */
  createUser(tier?: 'free' | 'premium' | 'internal'): Promise<{ id: string; api_key: string }>;
  /**
   * Overrides a user's limits through the admin API (`{perMinute: 0}` refuses every question).
   * API processes cache a key's owner briefly: set limits before the user's first request.
   */
  setLimits(userId: string, limits: Record<string, number>): Promise<void>;
  stop(): Promise<void>;
};

/**
 * Starts the system as deployed, for end-to-end tests: a real API process and `workers` real
 * worker processes (each loading the real ONNX model) on real Redis and Postgres. `nodeArgs` go
 * to every started process's `node`; `built` runs the production build (`npm run build` first).
 */
export async function startStack(
  label: string,
  env: Record<string, string>,
  options: { workers?: number; nodeArgs?: string[]; built?: boolean } = {},
): Promise<Stack> {
  const [redis, database] = await Promise.all([createTestRedis(label), createTestDatabase(label)]);
  const stackEnv: Record<string, string> = {
    REDIS_URL: redis.url,
    REDIS_PREFIX: redis.prefix,
    DATABASE_URL: database.url,
    ADMIN_TOKEN: STACK_ADMIN_TOKEN,
    HOST: '127.0.0.1',
    JOB_BACKOFF_MS: '100',
    // Most flows here test the model path with users who have no notes; the answerability gate
    // (no_context) is tested where notes exist (notes-flow sets 'gate').
    RETRIEVAL_ANSWERABILITY: 'off',
    // Crash, outage and slow-Redis flows drain slowly on purpose; the wait gate would refuse
    // their submits. It is tested on its own (backlog-gate tests) and in the load runner.
    QUEUE_MAX_WAIT_MS: '0',
    ...(process.env.EMBEDDING_MODEL_DIR ? { EMBEDDING_MODEL_DIR: process.env.EMBEDDING_MODEL_DIR } : {}),
    ...env,
  };
  const addWorker = (extraEnv: Record<string, string> = {}) =>
    startService(
      'worker',
      { ...stackEnv, WORKER_PORT: '0', MIGRATE_ON_START: 'false', ...extraEnv },
      { nodeArgs: options.nodeArgs ?? [], built: options.built },
    );
  const [api, ...workers] = await Promise.all([
    startService(
      'api',
      { ...stackEnv, PORT: '0' },
      { nodeArgs: options.nodeArgs ?? [], built: options.built },
    ),
    ...Array.from({ length: options.workers ?? 1 }, () => addWorker()),
  ]);
  const stack: Stack = {
    api: api!,
    workers,
    redis,
    database,
    env: stackEnv,
    async addWorker(extraEnv) {
      const worker = await addWorker(extraEnv);
      workers.push(worker);
      return worker;
    },
    async createUser(tier = 'free') {
      const res = await fetch(`${stack.api.url}/v1/admin/users`, {
        method: 'POST',
        headers: { authorization: `Bearer ${STACK_ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ tier }),
      });
      if (res.status !== 201) throw new Error(`createUser: ${res.status} ${await res.text()}`);
      return (await res.json()) as { id: string; api_key: string };
    },
    async setLimits(userId, limits) {
      const res = await fetch(`${stack.api.url}/v1/admin/users/${userId}`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${STACK_ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ limits }),
      });
      if (res.status !== 200) throw new Error(`setLimits: ${res.status} ${await res.text()}`);
    },
    async stop() {
      await Promise.allSettled([stack.api.stop(), ...workers.map((w) => w.stop())]);
      await Promise.allSettled([redis.cleanup(), database.drop()]);
    },
  };
  return stack;
}
