import { type Stack, startStack } from '@assistant/testing';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Notes to answers, end to end: real API and worker processes, the real ONNX model, Postgres
// in-memory BM25 beside the vector matrix, and the offline extractive answerer (so answers quote the notes).
let stack: Stack;
let alice: string;
let bob: string;

const aliceNotes = [
  {
    title: 'Passport',
    body: 'My passport is valid until March 2029. Renewal takes about six weeks at the consulate.',
  },
  {
    title: 'Sourdough starter',
    body: 'Feed the starter twice a day with equal weights of rye flour and water. Keep it on the counter.',
  },
  {
    title: 'Car service',
    body: 'The Civic needs its timing belt replaced at 100,000 km. Last oil change was at 82,000 km at Bayview Garage.',
  },
  { title: 'Dentist', body: 'Dr. Okafor moved my cleaning appointment to Thursday the 14th at 9:30.' },
  {
    title: 'Garden',
    body: 'Tomatoes go in the raised bed after the last frost, around mid May. Basil next to them.',
  },
];
// Bob's notes are on the same topics with other facts: retrieval must never cross users.
const bobNotes = [
  { title: 'Passport', body: 'Passport expires in July 2027; renew it online.' },
  { title: 'Car service', body: 'The Golf had new brake pads fitted at Eastside Motors.' },
];

async function call(key: string, method: string, path: string, body?: unknown) {
  return fetch(`${stack.api.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

async function addNotes(key: string, notes: { title: string; body: string }[]): Promise<string[]> {
  const res = await call(key, 'POST', '/v1/notes/batch', { notes });
  expect(res.status).toBe(201);
  return ((await res.json()) as { data: { id: string }[] }).data.map((n) => n.id);
}

async function waitIndexed(key: string, id: string, version: number) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const note = (await (await call(key, 'GET', `/v1/notes/${id}`)).json()) as {
      version: number;
      index_status: string;
    };
    if (note.version === version && note.index_status === 'indexed') return;
    if (note.index_status === 'failed') throw new Error(`indexing of ${id} failed`);
    if (Date.now() > deadline) throw new Error(`note ${id} not indexed at version ${version} within 30 s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

type Answer = {
  status: string;
  outcome: 'answered' | 'no_context' | null;
  answer: string;
  model: string;
  sources: { note_id: string; title: string; text: string; score: number }[];
};

async function ask(key: string, query: string): Promise<Answer> {
  const submitted = await call(key, 'POST', '/v1/queries', { query });
  expect(submitted.status).toBe(202);
  const { links } = (await submitted.json()) as { links: { self: string } };
  const res = await call(key, 'GET', `${links.self}?wait=20`);
  const answer = (await res.json()) as Answer;
  expect(answer.status).toBe('succeeded');
  return answer;
}

let aliceIds: string[];
let bobIds: string[];

beforeAll(async () => {
  stack = await startStack('notes-e2e', { LLM_PROVIDER: 'extractive', RETRIEVAL_ANSWERABILITY: 'gate' });
  [alice, bob] = await Promise.all([
    // Alice asks more than the free tier's 10 questions a minute.
    stack.createUser('premium').then((u) => u.api_key),
    stack.createUser().then((u) => u.api_key),
  ]);
  [aliceIds, bobIds] = await Promise.all([addNotes(alice, aliceNotes), addNotes(bob, bobNotes)]);
  await Promise.all([
    ...aliceIds.map((id) => waitIndexed(alice, id, 1)),
    ...bobIds.map((id) => waitIndexed(bob, id, 1)),
  ]);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe('notes and retrieval, end to end', () => {
  // The extractive answer quotes the sentences sharing a word with the question; when none does
  // (the first question's words are all paraphrased), it quotes nothing rather than a guess.
  const questions: [string, number, 'quotes' | 'quotes nothing'][] = [
    ['When does my travel document expire?', 0, 'quotes nothing'],
    ['How often should I feed the bread culture?', 1, 'quotes'],
    ['At what mileage is the belt swap due on my car?', 2, 'quotes'],
    ['When is my teeth cleaning?', 3, 'quotes'],
    ['When can I plant the tomatoes outside?', 4, 'quotes'],
  ];
  for (const [question, expected, quoting] of questions) {
    it(`puts the right note first for "${question}"`, async () => {
      const answer = await ask(alice, question);
      expect(answer).toMatchObject({ model: 'extractive', outcome: 'answered' });
      expect(answer.sources[0]?.note_id).toBe(aliceIds[expected]);
      if (quoting === 'quotes') expect(answer.answer).toMatch(/\[1\]/);
      else expect(answer.answer).toMatch(/none of their sentences answers this directly/);
    });
  }

  it("never shows one user's notes to another", async () => {
    const answer = await ask(bob, 'When does my travel document expire?');
    expect(answer.sources.length).toBeGreaterThan(0);
    for (const source of answer.sources) expect(bobIds).toContain(source.note_id);
    expect(answer.answer).toContain('July 2027');
    expect(answer.answer).not.toContain('2029');
  });

  it('says plainly when no note is relevant: the no_context outcome, no sources, no model', async () => {
    const answer = await ask(alice, 'What is the boiling point of tungsten?');
    expect(answer).toMatchObject({ outcome: 'no_context', sources: [], model: 'none' });
    expect(answer.answer).toMatch(/couldn't find anything in your notes/);
  });

  it('refuses a near-topic question whose month the note contradicts, quoting nothing', async () => {
    const answer = await ask(alice, 'What did I plant in the garden in September?');
    expect(answer).toMatchObject({ outcome: 'no_context', sources: [] });
    expect(answer.answer).not.toMatch(/Tomatoes/);
  });

  it('finds a note by a rare name alone, and by a misspelt word', async () => {
    const byName = await ask(alice, 'Bayview');
    expect(byName).toMatchObject({ outcome: 'answered' });
    expect(byName.sources[0]?.note_id).toBe(aliceIds[2]);
    const byTypo = await ask(alice, 'sourdogh startr');
    expect(byTypo.sources[0]?.note_id).toBe(aliceIds[1]);
  });

  it('re-indexes an edited note and answers from its new text', async () => {
    const id = aliceIds[3]!;
    const res = await call(alice, 'PUT', `/v1/notes/${id}`, {
      title: 'Dentist',
      body: 'Dr. Okafor moved my cleaning appointment again, now to Monday the 18th at 11:00.',
    });
    expect(res.status).toBe(200);
    await waitIndexed(alice, id, 2);
    const answer = await ask(alice, 'When is my teeth cleaning?');
    expect(answer.sources[0]?.note_id).toBe(id);
    expect(answer.answer).toContain('Monday the 18th');
    expect(answer.answer).not.toContain('Thursday');
  });

  it('deletes a note with its chunks, and stops citing it', async () => {
    const id = aliceIds[4]!;
    expect((await call(alice, 'DELETE', `/v1/notes/${id}`)).status).toBe(204);
    const sql = postgres(stack.database.url, { max: 1 });
    try {
      const [row] = await sql`select count(*)::int as n from note_chunks where note_id = ${id}`;
      expect(row?.n).toBe(0);
    } finally {
      await sql.end();
    }
    const answer = await ask(alice, 'When can I plant the tomatoes outside?');
    expect(answer.sources.map((s) => s.note_id)).not.toContain(id);
  });
});
