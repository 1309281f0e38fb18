import { ZodError } from 'zod';
import { readFakeLlmEnv } from './env.ts';
import { startFakeLlm } from './start-fake-llm.ts';

// Composition root: the only file of the fake that reads process.env.
let env: ReturnType<typeof readFakeLlmEnv>;
try {
  env = readFakeLlmEnv(process.env);
} catch (error) {
  if (!(error instanceof ZodError)) throw error;
  for (const issue of error.issues) console.error(`${issue.path.join('.')}: ${issue.message}`);
  process.exit(1);
}

const fake = await startFakeLlm(env);
console.log(
  `fake-llm listening on ${fake.url} (OpenAI base URL ${fake.url}/v1, control ${fake.url}/control)`,
);

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    fake.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  });
}
