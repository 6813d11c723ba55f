/**
 * The corrections folder on disk (its layout: correction-files.ts): the store that `serve
 * --corrections DIR` and `predict --label L --corrections DIR` add to, and the reader `finetune`
 * trains from.
 *
 * The store writes nowhere but inside DIR: file names are made here (a label from a fixed list,
 * 16 hex digits, an extension from a fixed list), never taken from a request; every folder it
 * writes into is checked to be a real folder inside DIR, not a symbolic link to elsewhere; files
 * are written atomically (util/fs.ts). It is bounded: at most `maxFiles` corrections and
 * `maxBytes` bytes in the folder, and no drawn picture over `maxDrawnBytes`.
 */
import { lstat, mkdir, readdir, realpath, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { asUserError, UserError } from '../util/errors.js';
import { writeFileAtomic } from '../util/fs.js';
import { sha256 } from './sha256.js';
import {
  CORRECTION_CLASS_FOLDERS,
  CORRECTION_LABELS,
  DRAWN_FOLDER,
  isCorrectionFileName,
  type Correction,
  type CorrectionLabel,
} from './correction-files.js';
import { loadImageFolder, type DigitDecoder, type FolderImageSet } from './folder.js';
import { PIXELS } from './types.js';

export interface CorrectionLimits {
  /** Corrections the folder may hold (each a 28x28 PNG, with or without its drawn picture). */
  maxFiles: number;
  /** Bytes the folder's corrections may take, drawn pictures included. */
  maxBytes: number;
  /** Largest drawn picture kept. */
  maxDrawnBytes: number;
}

const DEFAULT_CORRECTION_LIMITS: CorrectionLimits = {
  maxFiles: 10_000,
  maxBytes: 256 * 1024 * 1024,
  maxDrawnBytes: 512 * 1024,
};

/** The store is full or the picture too large: the request is refused, nothing is written. */
export class CorrectionLimitError extends UserError {}

export interface SavedCorrection {
  label: CorrectionLabel;
  name: string;
  /** The 28x28 PNG's path inside the folder (`7/3f9c0a1e5b2d4c68.png`). */
  path: string;
  /** False when the folder already held this very correction: nothing was written. */
  stored: boolean;
  /** The label the same picture was filed under before, now replaced (the latest label wins). */
  relabelled?: CorrectionLabel;
}

/** A corrections folder opened for adding to. Adds are done one at a time, in the order asked. */
export class CorrectionStore {
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    /** The folder's real path (symbolic links resolved once, when opened). */
    readonly dir: string,
    readonly limits: CorrectionLimits,
    private files: number,
    private bytes: number,
  ) {}

  /** Open (making it if need be) a corrections folder, and count what it holds. */
  static async open(dir: string, limits: Partial<CorrectionLimits> = {}): Promise<CorrectionStore> {
    let real: string;
    try {
      await mkdir(dir, { recursive: true });
      real = await realpath(dir);
    } catch (err) {
      throw asUserError(err, 'open the corrections folder', dir);
    }
    if (!(await lstat(real)).isDirectory()) throw new UserError(`${dir}: not a folder`, dir);
    const store = new CorrectionStore(real, { ...DEFAULT_CORRECTION_LIMITS, ...limits }, 0, 0);
    for (const label of CORRECTION_LABELS) {
      for (const [folder, drawn] of [
        [join(real, label), false],
        [join(real, DRAWN_FOLDER, label), true],
      ] as const) {
        for (const { size, counts } of await store.filesIn(folder, drawn)) {
          store.bytes += size;
          if (counts) store.files++;
        }
      }
    }
    return store;
  }

  /** Corrections in the folder (as counted when opened, plus those added since). */
  get count(): number {
    return this.files;
  }

  /**
   * File a correction: its 28x28 PNG under its label, its drawn picture under drawn/. The same
   * picture under another label is moved to this one. Refused (CorrectionLimitError) when the
   * folder is full or the drawn picture too large.
   */
  add(correction: Correction): Promise<SavedCorrection> {
    const next = this.queue.then(() => this.addNow(correction));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async addNow(correction: Correction): Promise<SavedCorrection> {
    const { label, name, input, drawn } = correction;
    if (drawn && drawn.bytes.length > this.limits.maxDrawnBytes) {
      throw new CorrectionLimitError(
        `the drawn picture is ${drawn.bytes.length} bytes, over the ${this.limits.maxDrawnBytes} a correction may keep`,
      );
    }
    const saved: SavedCorrection = { label, name, path: input.path, stored: false };
    if (await this.has(label, name)) return saved;
    let freed = { files: 0, bytes: 0 };
    for (const other of CORRECTION_LABELS) {
      if (other !== label && (await this.has(other, name))) {
        freed = await this.remove(other, name);
        saved.relabelled = other;
      }
    }
    this.files -= freed.files;
    this.bytes -= freed.bytes;
    const size = input.bytes.length + (drawn?.bytes.length ?? 0);
    if (this.files + 1 > this.limits.maxFiles)
      throw new CorrectionLimitError(
        `the corrections folder holds ${this.files} corrections, the most it may (${this.limits.maxFiles})`,
      );
    if (this.bytes + size > this.limits.maxBytes)
      throw new CorrectionLimitError(
        `the corrections folder holds ${this.bytes} bytes; this correction would take it over its ${this.limits.maxBytes}`,
      );
    await writeFileAtomic(join(await this.folder(label), `${name}.png`), input.bytes);
    if (drawn)
      await writeFileAtomic(
        join(await this.folder(DRAWN_FOLDER, label), drawn.path.slice(drawn.path.lastIndexOf('/') + 1)),
        drawn.bytes,
      );
    this.files++;
    this.bytes += size;
    saved.stored = true;
    return saved;
  }

  private async has(label: CorrectionLabel, name: string): Promise<boolean> {
    try {
      return (await lstat(join(this.dir, label, `${name}.png`))).isFile();
    } catch {
      return false;
    }
  }

  /** Remove a correction (its PNG and drawn pictures) from a label's folders: what it freed. */
  private async remove(label: CorrectionLabel, name: string): Promise<{ files: number; bytes: number }> {
    let bytes = 0;
    for (const [folder, drawn] of [
      [join(this.dir, label), false],
      [join(this.dir, DRAWN_FOLDER, label), true],
    ] as const) {
      for (const file of await this.filesIn(folder, drawn)) {
        if (!file.name.startsWith(`${name}.`)) continue;
        await rm(join(folder, file.name), { force: true });
        bytes += file.size;
      }
    }
    return { files: 1, bytes };
  }

  /**
   * The correction files in a folder of the store (none when it does not exist), with their sizes;
   * `counts` for a 28x28 PNG (a correction), not for a drawn picture. A folder that is a symbolic
   * link, or not a folder, is refused: the store writes inside DIR only.
   */
  private async filesIn(folder: string, drawn: boolean): Promise<{ name: string; size: number; counts: boolean }[]> {
    let names: string[];
    try {
      await this.checkFolder(folder);
      names = await readdir(folder);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: { name: string; size: number; counts: boolean }[] = [];
    for (const name of names.filter((n) => isCorrectionFileName(n, drawn))) {
      const stats = await lstat(join(folder, name));
      if (stats.isFile()) out.push({ name, size: stats.size, counts: !drawn });
    }
    return out;
  }

  /** A real folder (not a link), or ENOENT when there is nothing at the path. */
  private async checkFolder(folder: string): Promise<void> {
    const stats = await lstat(folder);
    if (stats.isSymbolicLink() || !stats.isDirectory()) {
      throw new UserError(
        `${folder} is ${stats.isSymbolicLink() ? 'a symbolic link' : 'not a folder'}: corrections are only written into real folders inside ${this.dir}`,
        folder,
      );
    }
  }

  /** A folder inside the store (made if missing), checked to be a real folder. */
  private async folder(...parts: string[]): Promise<string> {
    let path = this.dir;
    for (const part of parts) {
      path = join(path, part);
      try {
        await mkdir(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw asUserError(err, 'create the folder', path);
      }
      await this.checkFolder(path);
    }
    return path;
  }
}

/** A corrections folder read for training: digits labelled 0-9, "not a digit" NOT_A_DIGIT. */
export interface CorrectionSet extends FolderImageSet {
  /** SHA-256 (hex) of what is trained on: each image's label byte then its 784 pixels, in reading order. */
  sha256: string;
}

/**
 * Read a corrections folder (its class folders `0/` .. `9/` and `not-a-digit/`; `drawn/` is for
 * people) through `decode`, in class order, then file-name order.
 */
export async function readCorrections(dir: string, decode: DigitDecoder): Promise<CorrectionSet> {
  const set = await loadImageFolder(dir, decode, CORRECTION_CLASS_FOLDERS);
  const records = new Uint8Array(set.count * (1 + PIXELS));
  for (let i = 0; i < set.count; i++) {
    records[i * (1 + PIXELS)] = set.labels[i];
    records.set(set.images.subarray(i * PIXELS, (i + 1) * PIXELS), i * (1 + PIXELS) + 1);
  }
  return { ...set, sha256: sha256(records) };
}
