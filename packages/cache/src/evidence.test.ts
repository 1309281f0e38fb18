import { describe, expect, it } from 'vitest';
import { evidenceFingerprint, evidenceNoteIds, isEvidenceCurrent } from './evidence.ts';

const evidence = [
  { noteId: 'n1', chunkId: 'c1', version: 2 },
  { noteId: 'n1', chunkId: 'c2', version: 2 },
  { noteId: 'n2', version: 5 },
];

describe('isEvidenceCurrent', () => {
  it('is true when every cited note is at its cited version', () => {
    expect(
      isEvidenceCurrent(
        evidence,
        new Map([
          ['n1', 2],
          ['n2', 5],
          ['n3', 1],
        ]),
      ),
    ).toBe(true);
  });

  it('is false when a cited note was edited or deleted', () => {
    expect(
      isEvidenceCurrent(
        evidence,
        new Map([
          ['n1', 3],
          ['n2', 5],
        ]),
      ),
    ).toBe(false);
    expect(isEvidenceCurrent(evidence, new Map([['n1', 2]]))).toBe(false);
  });

  it('is true for an answer that cites nothing', () => {
    expect(isEvidenceCurrent([], new Map())).toBe(true);
  });
});

describe('evidenceNoteIds', () => {
  it('lists each note once', () => {
    expect(evidenceNoteIds(evidence)).toEqual(['n1', 'n2']);
  });
});

describe('evidenceFingerprint', () => {
  it('ignores order and duplicates', () => {
    const reversed = [...evidence].reverse();
    expect(evidenceFingerprint([...reversed, evidence[0]!])).toBe(evidenceFingerprint(evidence));
  });

  it('changes with a chunk id or a version', () => {
    const base = evidenceFingerprint(evidence);
    expect(evidenceFingerprint([{ ...evidence[0]!, version: 3 }, ...evidence.slice(1)])).not.toBe(base);
    expect(evidenceFingerprint([{ ...evidence[0]!, chunkId: 'c9' }, ...evidence.slice(1)])).not.toBe(base);
    expect(evidenceFingerprint(evidence.slice(1))).not.toBe(base);
  });
});
