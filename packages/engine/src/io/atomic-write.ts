import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** A temporary sibling of `path` (`.<name>.<tag>-<pid>-<hex>`): what the debris cleaners below recognise. */
export function siblingName(path: string, tag: 'tmp' | 'old'): string {
  return join(dirname(path), `.${basename(path)}.${tag}-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** A file-system error that names no path (a write on an open file) gets `path`, so the user hears which file. */
export function withPath(error: unknown, path: string): unknown {
  const e = error as NodeJS.ErrnoException;
  if (e && typeof e === 'object' && typeof e.code === 'string' && !e.path) e.path = path;
  return error;
}

/** Writes a file so readers see the old content or the new, never a partial one (temp + rename). */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = siblingName(path, 'tmp');
  const handle = await open(tmp, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (error) {
    // A write on an open file (a full disk) names no path: name the file it was for.
    await handle.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw withPath(error, path);
  }
  await handle.close();
  try {
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}

/**
 * Fills a directory as one unit: `write` populates a fresh sibling directory, which then replaces
 * `dir`. If `write` throws, `dir` keeps its previous content (a checkpoint is never half-written).
 * With `keepPrevious`, the version it replaces becomes that sibling (a checkpoint's previous
 * epoch, to fall back on when the newest is found damaged). A process killed between the two
 * renames leaves `dir` missing and its previous version beside it: `recoverDirAtomic` puts it back.
 */
export async function writeDirAtomic(dir: string, write: (tmpDir: string) => Promise<void>, options: { keepPrevious?: string } = {}): Promise<void> {
  await mkdir(dirname(dir), { recursive: true });
  const tmp = siblingName(dir, 'tmp');
  await mkdir(tmp);
  try {
    await write(tmp);
  } catch (error) {
    await rm(tmp, { recursive: true, force: true });
    throw withPath(error, dir);
  }
  const old = existsSync(dir) ? siblingName(dir, 'old') : undefined;
  if (old) await rename(dir, old);
  await rename(tmp, dir);
  if (!old) return;
  if (options.keepPrevious) {
    await rm(options.keepPrevious, { recursive: true, force: true });
    await rename(old, options.keepPrevious);
  } else {
    await rm(old, { recursive: true, force: true });
  }
}

/** The siblings writeDirAtomic / writeFileAtomic leave when interrupted: `.<name>.tmp-*` and `.<name>.old-*`. */
function debris(path: string): { tmp: string[]; old: string[] } {
  const dir = dirname(path);
  if (!existsSync(dir)) return { tmp: [], old: [] };
  const names = readdirSync(dir);
  const prefix = `.${basename(path)}.`;
  const pick = (tag: string) => names.filter((n) => n.startsWith(`${prefix}${tag}-`)).map((n) => join(dir, n));
  return { tmp: pick('tmp'), old: pick('old') };
}

/**
 * After an interruption: when `dir` is missing but the version a writeDirAtomic was replacing
 * lies beside it, that version is complete: it is renamed back. Leftover temporary copies
 * (complete or not) are removed. Call it before reading a directory that may have been written
 * when the process died (a checkpoint on `--resume`), and on finished runs to clean up.
 */
export async function recoverDirAtomic(dir: string): Promise<{ restored: boolean; removed: number }> {
  const { tmp, old } = debris(dir);
  let restored = false;
  const stale = [...tmp];
  if (!existsSync(dir) && old.length > 0) {
    // The newest complete version: the last one renamed aside.
    const newest = old.map((p) => ({ p, t: statSync(p).mtimeMs })).sort((a, b) => b.t - a.t)[0].p;
    await rename(newest, dir);
    restored = true;
    stale.push(...old.filter((p) => p !== newest));
  } else {
    stale.push(...old);
  }
  for (const p of stale) await rm(p, { recursive: true, force: true });
  return { restored, removed: stale.length };
}

/** What an interrupted atomic write leaves: `.<name>.tmp-<pid>-<hex>` or `.<name>.old-<pid>-<hex>`. */
const DEBRIS = /^\..+\.(tmp|old)-\d+-[0-9a-f]{8}$/;

/** Removes every leftover of interrupted atomic writes under `root` (a finished run's folder); returns how many. */
export async function removeAtomicDebris(root: string): Promise<number> {
  if (!existsSync(root)) return 0;
  let removed = 0;
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    const path = join(root, entry.name);
    if (DEBRIS.test(entry.name)) {
      await rm(path, { recursive: true, force: true });
      removed++;
    } else if (entry.isDirectory() && !entry.isSymbolicLink()) {
      removed += await removeAtomicDebris(path);
    }
  }
  return removed;
}
