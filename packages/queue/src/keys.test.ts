import calculateSlot from 'cluster-key-slot';
import { describe, expect, it } from 'vitest';
import { createKeys, QUEUE_NAMES } from './keys.ts';

// A Redis Cluster runs a script, a MULTI or an MGET only on keys of one slot (CROSSSLOT
// otherwise), and ioredis sends a pipeline to one node. These are the keys the service uses
// together in one command, computed with the slot function ioredis routes by.
const keys = createKeys('as');
const [alice, bob] = ['3f1c1a52-9c1e-4c55-9a51-1d8b1f0e2a01', '7b2d9e40-6a3f-4d7e-8c2b-5e9f0a1b3c02'];
const slotsOf = (list: string[]) => new Set(list.map((key) => calculateSlot(key)));

function userLimitKeys(userId: string): string[] {
  return [
    keys.limitsUserWindow(userId, 'minute'),
    keys.limitsUserWindow(userId, 'hour'),
    keys.limitsUserWindow(userId, 'day'),
    keys.limitsInFlight(userId),
    keys.limitsUserBudget(userId),
    keys.limitsUserReservations(userId),
  ];
}

describe('key slots on a Redis Cluster', () => {
  it('puts every key of the admission and budget scripts, for any user, on one slot with the global limits', () => {
    const global = [
      keys.limitsGlobalWindow(),
      keys.limitsGlobalBudget(),
      keys.limitsGlobalReservations(),
      keys.limitsSettled('q-1'),
      keys.limitsSettled('q-2'),
    ];
    expect(slotsOf([...global, ...userLimitKeys(alice), ...userLimitKeys(bob)]).size).toBe(1);
  });

  it("keeps a query's stream, its owner and (for one user) a run slot lease each on one slot", () => {
    expect(slotsOf([keys.events('q-1'), keys.eventsOwner('q-1')]).size).toBe(1);
    expect(slotsOf([keys.events('q-1'), keys.events('q-2'), keys.events('q-3')]).size).toBeGreaterThan(1);
    expect(slotsOf([keys.limitsRunSlots(alice)]).size).toBe(1);
  });

  it("puts every cache and generation key of one user on the user's slot, and users apart", () => {
    const ofUser = (userId: string) => [
      keys.notesGeneration(userId),
      keys.cacheEpochUser(userId),
      keys.answerCache(userId, 3, 'abc'),
      keys.semanticIndex(userId, 3, 'free'),
      keys.semanticAnswers(userId, 3, 'free'),
      keys.singleFlight(userId, 'def'),
      keys.limitsRunSlots(userId),
    ];
    expect(slotsOf(ofUser(alice)).size).toBe(1);
    expect(slotsOf(ofUser(bob)).size).toBe(1);
    expect(calculateSlot(keys.answerCache(alice, 1, 'x'))).not.toBe(
      calculateSlot(keys.answerCache(bob, 1, 'x')),
    );
  });

  it('keeps the flag keys (one script writes all three) and every canary counter on one slot each', () => {
    expect(slotsOf([keys.flagRules(), keys.flagVersion(), keys.flagChanges()]).size).toBe(1);
    const canary = ['exact_cache', 'semantic_cache'].flatMap((flag) =>
      (['in', 'out'] as const).flatMap((cohort) =>
        [1, 2, 3].map((minute) => keys.canaryStats(flag, 1_700_000_000_000, cohort, minute)),
      ),
    );
    expect(slotsOf(canary).size).toBe(1);
  });

  it('keeps the served-hits log and every row copy on the limits slot (the admission script writes both; one MGET reads copies)', () => {
    const copies = ['q_1', 'q_2', 'q_3'].map((id) => keys.servedRow(id));
    expect(slotsOf([keys.servedHits(), ...copies, keys.limitsUserWindow('u1', 'minute')]).size).toBe(1);
    const legacy = ['q_1', 'q_2'].map((id) => keys.legacyServedRow(id));
    expect(slotsOf([keys.legacyServedHits(), ...legacy]).size).toBe(1);
  });

  it('keeps every BullMQ key of one queue on one slot, and each queue on its own', () => {
    const bullKeys = (queue: string) =>
      [
        'wait',
        'active',
        'meta',
        'events',
        'delayed',
        'prioritized',
        'id',
        'q-1',
        'q-1:lock',
        'metrics:completed',
      ].map((suffix) => `${keys.bullPrefix(queue)}:${queue}:${suffix}`);
    expect(slotsOf(bullKeys(QUEUE_NAMES.answer)).size).toBe(1);
    expect(slotsOf(bullKeys(QUEUE_NAMES.indexNotes)).size).toBe(1);
    expect(calculateSlot(bullKeys(QUEUE_NAMES.answer)[0]!)).not.toBe(
      calculateSlot(bullKeys(QUEUE_NAMES.indexNotes)[0]!),
    );
  });

  it('leaves the cache state read across slots on purpose (it is split per slot on a cluster)', () => {
    // The global and tier epochs belong to no user: `mgetAnySlots` reads them one MGET per slot.
    const read = [
      keys.notesGeneration(alice),
      keys.cacheEpochGlobal(),
      keys.cacheEpochTier('free'),
      keys.cacheEpochUser(alice),
    ];
    expect(slotsOf(read).size).toBe(3);
  });
});
