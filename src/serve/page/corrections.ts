/**
 * "Wrong? It is a [0-9] / not a digit": after an answer, a person says what the picture really
 * is, and the page files it as a correction (the 28x28 picture the model saw, the pad as drawn,
 * the label), for `mnist-cnn finetune` to learn from:
 * - served by `mnist-cnn serve --corrections DIR` (GET /v1/corrections says `enabled`): POST
 *   /v1/corrections files it into DIR;
 * - otherwise (the static site, or a server without a corrections folder): it is kept in this
 *   browser (IndexedDB, or memory where that is unavailable) and downloaded as a zip of the
 *   corrections folder's layout (data/correction-files.ts), to unzip into a folder for finetune.
 *
 * Test hooks on #correct: data-state ('hidden' until an answer, 'ready', 'saving', 'saved',
 * 'error'), data-where ('server' or 'browser'), data-file (the last correction's path in the
 * folder), data-count (corrections where they go). Its .correct-ask part (the question and its
 * buttons) shows after an answer; its .correct-kept part (download, forget) while this browser
 * keeps corrections.
 */
import {
  CORRECTION_LABELS,
  makeCorrection,
  type Correction,
  type CorrectionLabel,
} from '../../data/correction-files.js';
import { zipStored, type ZipEntry } from '../../util/zip.js';
import { readJson } from './api.js';

/** What the server answers to POST /v1/corrections (routes/corrections.ts). */
interface Filed {
  label: string;
  file: string;
  stored: boolean;
  relabelled?: string;
  count: number;
}

/** Where corrections go: the server's folder, or this browser. */
interface CorrectionSink {
  readonly where: 'server' | 'browser';
  add(correction: Correction, drawnDataUrl: string): Promise<{ file: string; stored: boolean; count: number }>;
}

const serverSink: CorrectionSink = {
  where: 'server',
  async add(correction, drawnDataUrl) {
    const response = await fetch('/v1/corrections', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ label: correction.label, pixels: Array.from(pixelsOf(correction)), drawn: drawnDataUrl }),
    });
    const filed = await readJson<Filed>(response, 'correction');
    return { file: filed.file, stored: filed.stored, count: filed.count };
  },
};

/** The 28x28 pixels a correction was made from (kept beside it: the PNG holds them too). */
const pixelsByCorrection = new WeakMap<Correction, Uint8Array>();
const pixelsOf = (correction: Correction) => pixelsByCorrection.get(correction)!;

const DB_NAME = 'mnist-cnn-corrections';
const STORE = 'corrections';

/**
 * Corrections kept in this browser, by name (the hash of the picture: the same picture once, its
 * latest label winning): in IndexedDB, so that they survive a reload, or in memory where the
 * browser refuses IndexedDB (private windows of some browsers, file: pages).
 */
class BrowserSink implements CorrectionSink {
  readonly where = 'browser';
  private readonly memory = new Map<string, Correction>();
  private db: Promise<IDBDatabase | undefined> | undefined;

  private open(): Promise<IDBDatabase | undefined> {
    this.db ??= new Promise((resolve) => {
      try {
        const request = indexedDB.open(DB_NAME, 1);
        request.onupgradeneeded = () => request.result.createObjectStore(STORE);
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => resolve(undefined);
      } catch {
        resolve(undefined);
      }
    });
    return this.db;
  }

  private async transaction<T>(
    mode: IDBTransactionMode,
    work: (store: IDBObjectStore) => IDBRequest<T>,
  ): Promise<T | undefined> {
    const db = await this.open();
    if (!db) return undefined;
    // Settled when the transaction is done, not when its request is: a write is then committed, so a
    // reload straight after it finds it.
    return new Promise((resolve, reject) => {
      const transaction = db.transaction(STORE, mode);
      const request = work(transaction.objectStore(STORE));
      transaction.oncomplete = () => resolve(request.result);
      transaction.onerror = () => reject(transaction.error ?? request.error ?? new Error('IndexedDB failed'));
      transaction.onabort = () => reject(transaction.error ?? new Error('IndexedDB transaction aborted'));
    });
  }

  async all(): Promise<Correction[]> {
    const stored = await this.transaction('readonly', (store) => store.getAll() as IDBRequest<Correction[]>);
    return stored ?? [...this.memory.values()];
  }

  async add(correction: Correction): Promise<{ file: string; stored: boolean; count: number }> {
    const before = (await this.all()).find((c) => c.name === correction.name);
    const stored = before?.label !== correction.label;
    // (Structured clone keeps the Uint8Arrays; the WeakMap's pixels are not needed again here.)
    if ((await this.transaction('readwrite', (store) => store.put(correction, correction.name))) === undefined)
      this.memory.set(correction.name, correction);
    return { file: correction.input.path, stored, count: (await this.all()).length };
  }

  async clear(): Promise<void> {
    this.memory.clear();
    await this.transaction('readwrite', (store) => store.clear());
  }

  /** The corrections as a zip of the corrections folder's layout. */
  async zip(): Promise<Uint8Array> {
    const entries: ZipEntry[] = (await this.all())
      .flatMap((c) => [c.input, ...(c.drawn ? [c.drawn] : [])])
      .map((entry) => ({ name: entry.path, bytes: entry.bytes }));
    return zipStored(entries);
  }
}

/** A data: URL's bytes. */
function bytesOfDataUrl(url: string): Uint8Array {
  const binary = atob(url.slice(url.indexOf(',') + 1));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

export interface CorrectionSource {
  /** The 28x28 picture the model saw for the current input, or null when there is none. */
  pixels(): Uint8Array | null;
  /** The picture as drawn (the pad), as a PNG data: URL. */
  drawn(): string;
}

/** The "Wrong? It is a …" bar under the answer. */
export class CorrectionsBar {
  private sink: CorrectionSink = new BrowserSink();
  private readonly buttons: HTMLButtonElement[];
  private readonly ask: HTMLElement;
  private readonly status: HTMLElement;
  private readonly download: HTMLButtonElement;
  private readonly forget: HTMLButtonElement;

  constructor(
    private readonly root: HTMLElement,
    private readonly source: CorrectionSource,
  ) {
    const choices = root.querySelector<HTMLElement>('.choices')!;
    this.buttons = CORRECTION_LABELS.map((label) => {
      const button = document.createElement('button');
      button.type = 'button';
      button.dataset.label = label;
      button.textContent = label === 'not-a-digit' ? 'not a digit' : label;
      button.setAttribute('aria-label', label === 'not-a-digit' ? 'It is not a digit' : `It is a ${label}`);
      button.addEventListener('click', () => void this.file(label));
      return button;
    });
    choices.replaceChildren(...this.buttons);
    this.ask = root.querySelector<HTMLElement>('.correct-ask')!;
    this.status = root.querySelector<HTMLElement>('.correct-status')!;
    this.download = root.querySelector<HTMLButtonElement>('.correct-download')!;
    this.forget = root.querySelector<HTMLButtonElement>('.correct-forget')!;
    this.download.addEventListener('click', () => void this.downloadZip());
    this.forget.addEventListener('click', () => void this.forgetAll());
    this.hide();
  }

  /** Where corrections go: the server's folder when it has one (GET /v1/corrections), else this browser. */
  async start(served: boolean): Promise<void> {
    if (served) {
      try {
        const folder = await readJson<{ enabled: boolean; count?: number }>(
          await fetch('/v1/corrections'),
          'corrections',
        );
        if (folder.enabled) {
          this.sink = serverSink;
          this.root.dataset.count = String(folder.count ?? 0);
        }
      } catch {
        // No server folder to file into: the browser keeps them.
      }
    }
    this.root.dataset.where = this.sink.where;
    if (this.sink instanceof BrowserSink) await this.showKept(await this.sink.all().then((all) => all.length));
  }

  /** An answer is shown: offer to correct it. */
  offer(): void {
    if (!this.source.pixels()) return this.hide();
    this.ask.hidden = false;
    if (this.root.dataset.state !== 'saving') this.root.dataset.state = 'ready';
    for (const button of this.buttons) button.disabled = false;
  }

  /** The input is gone (cleared): nothing to correct. */
  hide(): void {
    this.ask.hidden = true;
    this.root.dataset.state = 'hidden';
    this.status.textContent = '';
  }

  private async file(label: CorrectionLabel): Promise<void> {
    const pixels = this.source.pixels();
    if (!pixels) return;
    this.root.dataset.state = 'saving';
    for (const button of this.buttons) button.disabled = true;
    try {
      const drawn = this.source.drawn();
      const correction = makeCorrection(label, pixels, { bytes: bytesOfDataUrl(drawn), ext: 'png' });
      pixelsByCorrection.set(correction, pixels);
      const { file, stored, count } = await this.sink.add(correction, drawn);
      const what = label === 'not-a-digit' ? 'not a digit' : `a ${label}`;
      const where =
        this.sink.where === 'server'
          ? `the server's corrections folder (${count})`
          : `this browser (${count}): download them for mnist-cnn finetune`;
      this.status.textContent = `${stored ? 'Saved' : 'Already saved'} as ${what} in ${where}.`;
      this.root.dataset.file = file;
      this.root.dataset.count = String(count);
      this.root.dataset.state = 'saved';
      if (this.sink instanceof BrowserSink) await this.showKept(count);
    } catch (err) {
      this.status.textContent = `Could not save the correction: ${(err as Error).message}`;
      this.root.dataset.state = 'error';
    } finally {
      for (const button of this.buttons) button.disabled = false;
    }
  }

  private async showKept(count: number): Promise<void> {
    this.root.dataset.count = String(count);
    this.download.hidden = count === 0;
    this.forget.hidden = count === 0;
    this.download.textContent = `Download ${count} correction${count === 1 ? '' : 's'} (zip)`;
  }

  private async downloadZip(): Promise<void> {
    if (!(this.sink instanceof BrowserSink)) return;
    const url = URL.createObjectURL(
      new Blob([(await this.sink.zip()) as Uint8Array<ArrayBuffer>], { type: 'application/zip' }),
    );
    const link = document.createElement('a');
    link.href = url;
    link.download = 'corrections.zip';
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  }

  private async forgetAll(): Promise<void> {
    if (!(this.sink instanceof BrowserSink)) return;
    await this.sink.clear();
    this.status.textContent = 'The corrections kept in this browser are forgotten.';
    await this.showKept(0);
  }
}
