import { type RunningFakeLlm, startFakeLlm } from '@assistant/fake-llm';
import { QUEUE_NAMES } from '@assistant/queue';
import { STACK_ADMIN_TOKEN, type Stack, startStack, startTcpProxy, type TcpProxy } from '@assistant/testing';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The browser client at /app in real headless Chromium (Debian's package; no browser download),
// against the real stack: API and worker processes, Redis, Postgres, the fake LLM. The page
// reaches the API through a TCP proxy that the test cuts mid-stream.
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const STREAM_TOKEN_TTL_SECONDS = 4;

let stack: Stack;
let fake: RunningFakeLlm;
let proxy: TcpProxy;
let browser: Browser;
let page: Page;
let apiKey: string;

beforeAll(async () => {
  fake = await startFakeLlm({ settings: { answerTokens: 60, tokensPerSecond: 20 } });
  stack = await startStack('browser', {
    LLM_PROVIDER: 'endpoint',
    LLM_ENDPOINT_URL: `${fake.url}/v1`,
    LLM_MODEL: 'fake-model',
    STREAM_TOKEN_TTL_SECONDS: String(STREAM_TOKEN_TTL_SECONDS),
  });
  proxy = await startTcpProxy({ port: stack.api.port });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  page = await browser.newPage();
  apiKey = (await stack.createUser()).api_key;
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await proxy?.close();
  await stack?.stop();
  await fake?.close();
});

async function signIn(key: string) {
  await page.fill('#api-key', key);
  await page.click('#use-key');
}

/** The page's answer text, whether it has ended, and how its stream reconnected. */
async function answerState() {
  const data = async (name: string) => (await page.getAttribute('#answer', `data-${name}`)) ?? '';
  return {
    text: (await page.textContent('#answer')) ?? '',
    done: (await data('done')) === 'true',
    queryId: await data('query-id'),
    reconnects: Number((await data('reconnects')) || '0'),
    renewals: Number((await data('renewals')) || '0'),
  };
}

// Waits through selectors and polling, not page-side functions: the page's CSP forbids eval, and
// this file is compiled without the DOM's types.
const signedIn = () => page.locator('#whoami', { hasText: /^Signed in as/ }).waitFor();
const answerDone = (timeout: number) => page.waitForSelector('#answer[data-done="true"]', { timeout });
const answerLongerThan = (n: number) =>
  expect
    .poll(async () => ((await page.textContent('#answer')) ?? '').length, { timeout: 15_000 })
    .toBeGreaterThan(n);
const retryShown = () => page.locator('#error', { hasText: /Retry in \d+ s/ }).waitFor();

async function storedAnswer(queryId: string): Promise<string> {
  const res = await fetch(`${stack.api.url}/v1/queries/${queryId}`, {
    headers: { authorization: `Bearer ${apiKey}` },
  });
  return ((await res.json()) as { answer: string }).answer;
}

/** Cuts every connection through the proxy (and refuses new ones) for a moment. */
async function dropConnections() {
  proxy.setMode('reset');
  await new Promise((resolve) => setTimeout(resolve, 300));
  proxy.setMode('pass');
}

describe('the browser client at /app', () => {
  it('signs in with a pasted key, adds a note and lists it', async () => {
    await page.goto(proxy.url('http', '/app'));
    expect(await page.title()).toBe('Ask your notes');
    await signIn(apiKey);
    await signedIn();
    await page.fill('#note-title', 'Roof repairs');
    await page.fill('#note-body', 'We decided to replace the gutters in May, with copper ones.');
    await page.fill('#note-tags', 'home, roof');
    await page.click('#add-note');
    await page.waitForSelector('#notes li >> text=Roof repairs');
    expect(await page.textContent('#notes')).toContain('#home #roof');
  }, 30_000);

  it('streams an answer with its cited notes, and a dropped connection loses and repeats no token', async () => {
    await page.fill('#question', 'What did I decide about the gutters?');
    await page.click('#ask');
    // Some tokens in, then the connection drops; the browser resumes with Last-Event-ID.
    await answerLongerThan(40);
    await dropConnections();
    await answerDone(20_000);
    const state = await answerState();
    expect(state.reconnects).toBeGreaterThanOrEqual(1);
    // The browser's own reconnect, with Last-Event-ID and the link's still valid token.
    expect(state.renewals).toBe(0);
    expect(state.text).toBe(await storedAnswer(state.queryId));
    expect(state.text).toMatch(/^Fake answer to: /);
    expect(await page.textContent('#sources')).toContain('Roof repairs');
  }, 40_000);

  it('past the stream token expiry, a dropped stream resumes through a fresh link', async () => {
    fake.update({ answerTokens: 200, tokensPerSecond: 25 });
    await page.fill('#question', 'Summarise my notes about the roof, please');
    await page.click('#ask');
    await answerLongerThan(10);
    // The link's token expires; the browser's own reconnect is refused (401) and the page GETs
    // the query for a new link, resuming after the last event it applied.
    await new Promise((resolve) => setTimeout(resolve, (STREAM_TOKEN_TTL_SECONDS + 0.5) * 1000));
    expect((await answerState()).done).toBe(false);
    await dropConnections();
    await answerDone(30_000);
    const state = await answerState();
    expect(state.renewals).toBeGreaterThanOrEqual(1);
    expect(state.text).toBe(await storedAnswer(state.queryId));
    fake.update({ answerTokens: 60, tokensPerSecond: 20 });
  }, 60_000);

  it('shows the retry time when rate-limited', async () => {
    const limited = await stack.createUser();
    await stack.setLimits(limited.id, { perMinute: 0 });
    await signIn(limited.api_key);
    await signedIn();
    await page.fill('#question', 'Anything at all?');
    await page.click('#ask');
    await retryShown();
    expect(await page.textContent('#error')).toMatch(/^Rate-limited \(rate_limited\): .* Retry in \d+ s\.$/);
  }, 30_000);

  it('the queue dashboard signs an admin in by a posted form, never with the token in a URL', async () => {
    const admin = await browser.newPage();
    const urls: string[] = [];
    admin.on('request', (request) => urls.push(request.url()));
    try {
      await admin.goto(proxy.url('http', '/admin/queues'));
      expect(new URL(admin.url()).pathname).toBe('/admin/login');
      await admin.fill('#token', STACK_ADMIN_TOKEN);
      await admin.click('#sign-in');
      await admin.waitForURL((url) => url.pathname.startsWith('/admin/queues'));
      for (const name of Object.values(QUEUE_NAMES)) {
        await admin.getByText(name, { exact: true }).first().waitFor({ timeout: 15_000 });
      }
      expect(urls.filter((url) => url.includes(STACK_ADMIN_TOKEN))).toEqual([]);
      const cookies = await admin.context().cookies();
      expect(cookies.find((c) => c.name === 'assistant_admin')).toMatchObject({
        httpOnly: true,
        sameSite: 'Strict',
      });
    } finally {
      await admin.close();
    }
  }, 30_000);
});
