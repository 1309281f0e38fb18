import { describe, expect, it } from 'vitest';
import { createPostgresGenerations } from './postgres-generations.ts';

// What this process may claim about Postgres's generations: only what it read or heard while
// listening without a break.
function setUp(db: Map<string, number>) {
  const loads: string[] = [];
  let release: (() => void) | undefined;
  let holdLoads = false;
  const generations = createPostgresGenerations({
    load: async (userId) => {
      loads.push(userId);
      if (holdLoads) await new Promise<void>((resolve) => (release = resolve));
      return db.get(userId) ?? 0;
    },
  });
  return {
    generations,
    loads,
    hold: () => (holdLoads = true),
    release: () => release?.(),
  };
}

describe('createPostgresGenerations', () => {
  it('knows nothing before it listens', () => {
    const { generations, loads } = setUp(new Map([['u1', 3]]));
    expect(generations.current('u1')).toBeUndefined();
    expect(loads).toEqual([]);
  });

  it('reads a user once, then answers from what it heard', async () => {
    const { generations, loads } = setUp(new Map([['u1', 3]]));
    generations.handlers.onListening();
    expect(await generations.current('u1')).toBe(3);
    expect(generations.current('u1')).toBe(3);
    generations.handlers.onGeneration('u1', 4);
    expect(generations.current('u1')).toBe(4);
    // An announcement older than what is known never moves it back.
    generations.handlers.onGeneration('u1', 2);
    expect(generations.current('u1')).toBe(4);
    expect(loads).toEqual(['u1']);
  });

  it('keeps a bump heard while the first read was under way', async () => {
    const setup = setUp(new Map([['u1', 3]]));
    setup.generations.handlers.onListening();
    setup.hold();
    const reading = setup.generations.current('u1');
    setup.generations.handlers.onGeneration('u1', 5);
    setup.release();
    expect(await reading).toBe(5);
  });

  it('forgets everything when the listener is lost, and a read begun before does not count', async () => {
    const setup = setUp(new Map([['u1', 3]]));
    setup.generations.handlers.onListening();
    expect(await setup.generations.current('u1')).toBe(3);
    setup.hold();
    setup.generations.handlers.onListening();
    const reading = setup.generations.current('u1');
    setup.generations.handlers.onLost();
    setup.release();
    expect(await reading).toBeUndefined();
    expect(setup.generations.current('u1')).toBeUndefined();
    // Announcements heard while lost are not knowledge either.
    setup.generations.handlers.onGeneration('u1', 9);
    setup.generations.handlers.onListening();
    expect(setup.loads).toEqual(['u1', 'u1']);
  });
});
