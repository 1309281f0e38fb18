import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { NoteBatchItem } from '@assistant/contracts';
import { parse as parseYaml } from 'yaml';
import { CliError, EXIT } from './cli-error.ts';

/** A Markdown file turned into a note, or the reason it cannot be one. */
export type MarkdownNote =
  | { file: string; note: NoteBatchItem; bytes: number }
  | { file: string; error: string };

const MARKDOWN = /\.(md|markdown)$/i;
const FRONT_MATTER = /^---\r?\n([\s\S]*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|$)/;

/**
 * Every Markdown file under `folder`, as paths relative to it with `/` separators, sorted.
 * Hidden entries (`.obsidian`, `.git`, `.trash`) and files of other kinds are skipped.
 */
export async function findMarkdownFiles(folder: string): Promise<{ files: string[]; skipped: number }> {
  const info = await stat(folder).catch(() => undefined);
  if (!info) throw new CliError(`folder not found: ${folder}`, EXIT.usage);
  if (!info.isDirectory()) throw new CliError(`not a folder: ${folder}`, EXIT.usage);
  const files: string[] = [];
  let skipped = 0;
  async function walk(relative: string) {
    const entries = await readdir(path.join(folder, relative), { withFileTypes: true });
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const child = relative ? `${relative}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await walk(child);
      else if (entry.isFile() && MARKDOWN.test(entry.name)) files.push(child);
      else skipped += 1;
    }
  }
  await walk('');
  return { files: files.sort(), skipped };
}

function tagsOf(value: unknown): string[] {
  const raw = Array.isArray(value) ? value : typeof value === 'string' ? value.split(/[,\s]+/) : [];
  // Obsidian writes `#tag` as well as `tag`; the API stores the bare name, once.
  const names = raw.map((t) => String(t).trim().replace(/^#/, '')).filter((t) => t.length > 0);
  return [...new Set(names)];
}

/**
 * One Markdown file as a note: the front matter's `title` (else the first `# heading`, else the
 * file name) and `tags` (a list or a comma/space separated string), the rest as the body, and the
 * relative path as `external_id`, so importing the same folder again updates instead of adding.
 * Checked with the API's own schema, so a note the API would refuse is reported here, by file.
 */
export function parseMarkdownNote(file: string, text: string): MarkdownNote {
  let body = text.replace(/^\uFEFF/, '');
  let meta: Record<string, unknown> = {};
  const front = FRONT_MATTER.exec(body);
  if (front) {
    try {
      const parsed: unknown = parseYaml(front[1] ?? '');
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
        meta = parsed as Record<string, unknown>;
    } catch (error) {
      return {
        file,
        error: `front matter is not YAML (${error instanceof Error ? error.message.split('\n')[0] : error})`,
      };
    }
    body = body.slice(front[0].length);
  }
  const heading = /^#[ \t]+(.+?)[ \t#]*$/m.exec(body)?.[1];
  const fallback = path.posix.basename(file).replace(MARKDOWN, '');
  const title = typeof meta.title === 'string' && meta.title.trim() ? meta.title : (heading ?? fallback);
  const checked = NoteBatchItem.safeParse({ title, body, tags: tagsOf(meta.tags), external_id: file });
  if (!checked.success) {
    return { file, error: checked.error.issues.map((issue) => issue.message).join('; ') };
  }
  return { file, note: checked.data, bytes: Buffer.byteLength(JSON.stringify(checked.data)) };
}

/** Reads and parses the files (relative to `folder`), one at a time: a vault may hold thousands. */
export async function readMarkdownNotes(folder: string, files: string[]): Promise<MarkdownNote[]> {
  const notes: MarkdownNote[] = [];
  for (const file of files)
    notes.push(parseMarkdownNote(file, await readFile(path.join(folder, file), 'utf8')));
  return notes;
}
