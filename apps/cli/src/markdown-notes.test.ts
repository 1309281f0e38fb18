import { describe, expect, it } from 'vitest';
import { parseMarkdownNote } from './markdown-notes.ts';

describe('parseMarkdownNote', () => {
  it('takes title and tags from the front matter and keeps the rest as the body', () => {
    const parsed = parseMarkdownNote(
      'a/roof.md',
      '---\ntitle: Roof\ntags: [home, "#repairs", home]\n---\nFix the gutter.\n',
    );
    expect(parsed).toMatchObject({
      note: { title: 'Roof', tags: ['home', 'repairs'], body: 'Fix the gutter.\n', external_id: 'a/roof.md' },
    });
  });

  it('falls back to the first heading, then to the file name; tags may be a string', () => {
    expect(parseMarkdownNote('x.md', 'intro\n# The Heading #\nbody')).toMatchObject({
      note: { title: 'The Heading' },
    });
    expect(parseMarkdownNote('dir/plain note.md', '---\ntags: a, b c\n---\njust text')).toMatchObject({
      note: { title: 'plain note', tags: ['a', 'b', 'c'], body: 'just text' },
    });
  });

  it('reports, by file, a note the API would refuse or front matter that is not YAML', () => {
    expect(parseMarkdownNote('empty.md', '---\ntitle: T\n---\n  \n')).toEqual({
      file: 'empty.md',
      error: 'body must not be empty',
    });
    expect(parseMarkdownNote('bad.md', '---\ntitle: [unclosed\n---\nbody')).toMatchObject({
      file: 'bad.md',
      error: expect.stringMatching(/^front matter is not YAML/),
    });
  });
});
