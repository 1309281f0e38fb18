// `npm run cli -- create-user [--tier free|premium|internal] [--email x@y]`
// Talks to a running API with the admin token (ADMIN_TOKEN, or .local/admin-token written by
// `npm start`), so the CLI needs no database access of its own.
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

if (existsSync('.env')) process.loadEnvFile('.env');

const usage =
  'usage: npm run cli -- create-user [--tier free|premium|internal] [--email x@y] [--url http://…]\n' +
  '       npm run cli -- --help';

/** Parses argv; user errors print usage and exit 2 (no stack), `--help` prints it and exits 0. */
function parseCommandLine() {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        tier: { type: 'string', default: 'free' },
        email: { type: 'string' },
        url: {
          type: 'string',
          default: process.env.API_URL ?? `http://127.0.0.1:${process.env.PORT ?? '3000'}`,
        },
      },
    });
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n${usage}`);
    process.exit(2);
  }
}

const { positionals, values } = parseCommandLine();
if (values.help) {
  console.log(usage);
  process.exit(0);
}

const token =
  process.env.ADMIN_TOKEN ??
  (existsSync('.local/admin-token') ? readFileSync('.local/admin-token', 'utf8').trim() : undefined);

async function main() {
  if (positionals[0] !== 'create-user') {
    console.error(usage);
    process.exit(2);
  }
  if (!token) {
    console.error('no admin token: set ADMIN_TOKEN or run `npm start` once (it writes .local/admin-token)');
    process.exit(2);
  }
  const res = await fetch(`${values.url}/v1/admin/users`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ tier: values.tier, ...(values.email ? { email: values.email } : {}) }),
  }).catch((error: unknown) => {
    // fetch says only "fetch failed"; the cause (ECONNREFUSED, ENOTFOUND…) is what the user needs.
    const cause =
      error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
    console.error(`cannot reach the API at ${values.url} (${cause}); is it running (\`npm start\`)?`);
    process.exit(1);
  });
  const body = await res.text();
  if (res.status !== 201) {
    console.error(`failed (${res.status}): ${body}`);
    process.exit(1);
  }
  const user = JSON.parse(body) as { id: string; api_key: string; tier: string };
  console.log(`user ${user.id} (${user.tier})\napi key (shown once): ${user.api_key}`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
