import { Worker } from 'node:worker_threads';
import { GazeError } from '@gaze/engine';
import { batchesWith, UnreadableItemError } from '../split.js';
import type { Dataset, Item, Split, SplitName } from '../types.js';

/**
 * Worker threads that prepare examples (read, decode, render, transform, augment) while the main
 * thread trains: each builds the same dataset from the same config and seed and answers
 * `split.item(index, { augment, seed })` requests, so batches are identical to in-thread ones.
 */

/** What a worker needs to rebuild the dataset. */
export interface ItemWorkerData {
  config: { type: string } & Record<string, unknown>;
  seed: number;
  baseDir: string;
  where: string;
}

export interface ItemRequest {
  id: number;
  split: SplitName;
  index: number;
  augment: boolean;
  seed: number;
}

export type ItemReply =
  | { id: number; item: Item }
  | { id: number; unreadable: { id: string; reason: string } }
  | { id: number; error: { message: string; where?: string; hint?: string } }
  | { ready: true }
  | { failed: { message: string; where?: string; hint?: string } };

// From TypeScript source (tsx), the worker needs the same loader and export condition as this thread.
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const WORKER_URL = new URL(FROM_SOURCE ? './item-worker-from-source.mjs' : './item-worker.js', import.meta.url);
const SOURCE_EXEC_ARGV = ['--conditions=@gaze/source'];

interface Pending {
  resolve: (item: Item) => void;
  reject: (error: Error) => void;
}

class ItemWorker {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private failure: Error | undefined;
  private exited = false;
  private closing = false;
  readonly ready: Promise<void>;

  constructor(data: ItemWorkerData) {
    this.worker = new Worker(WORKER_URL, { workerData: data, execArgv: FROM_SOURCE ? SOURCE_EXEC_ARGV : [] });
    this.worker.unref();
    this.ready = new Promise((resolve, reject) => {
      this.worker.on('message', (reply: ItemReply) => {
        if ('ready' in reply) return resolve();
        if ('failed' in reply) return this.fail(toError(reply.failed), reject);
        this.settle(reply);
      });
      this.worker.on('error', (error) => this.fail(new GazeError(`a data worker failed: ${error.message}`, { hint: 'set dataset.workers: 0 to prepare examples in the main thread', cause: error }), reject));
      this.worker.on('exit', (code) => {
        this.exited = true;
        const why = this.closing ? new GazeError('the data workers were closed') : new GazeError(`a data worker exited (code ${code})`, { hint: 'set dataset.workers: 0 to prepare examples in the main thread' });
        this.fail(why, reject);
      });
    });
    this.ready.catch(() => {});
  }

  get load(): number {
    return this.pending.size;
  }

  item(split: SplitName, index: number, augment: boolean, seed: number): Promise<Item> {
    if (this.failure || this.closing) return Promise.reject(this.failure ?? new GazeError('the data workers were closed'));
    const id = this.nextId++;
    // Keep the process alive only while examples are on the way.
    if (this.pending.size === 0) this.worker.ref();
    const promise = new Promise<Item>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.worker.postMessage({ id, split, index, augment, seed } satisfies ItemRequest);
    return promise;
  }

  /** Asks the worker to stop after what it is doing, and waits until it has. */
  close(): Promise<void> {
    this.closing = true;
    if (this.exited) return Promise.resolve();
    // Ref'd until it exits, or nothing would keep the process alive for this promise.
    this.worker.ref();
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.postMessage({ close: true });
    return exited;
  }

  private settle(reply: Exclude<ItemReply, { ready: true } | { failed: unknown }>): void {
    const waiting = this.pending.get(reply.id);
    if (!waiting) return;
    this.pending.delete(reply.id);
    // Idle: let the process exit (but a closing worker stays ref'd until it has exited).
    if (this.pending.size === 0 && !this.closing) this.worker.unref();
    if ('item' in reply) waiting.resolve(reply.item);
    else if ('unreadable' in reply) waiting.reject(new UnreadableItemError(reply.unreadable.id, reply.unreadable.reason));
    else waiting.reject(toError(reply.error));
  }

  private fail(error: Error, rejectReady: (error: Error) => void): void {
    if (this.failure) return;
    this.failure = error;
    rejectReady(error);
    for (const waiting of this.pending.values()) waiting.reject(error);
    this.pending.clear();
    // A closing worker stays ref'd until it has exited (close() waits for that).
    if (!this.closing) this.worker.unref();
  }
}

function toError(e: { message: string; where?: string; hint?: string }): GazeError {
  return new GazeError(e.message, { where: e.where, hint: e.hint });
}

/** `count` workers; each request goes to the least busy one. */
export class ItemWorkerPool {
  private readonly workers: ItemWorker[];

  constructor(data: ItemWorkerData, count: number) {
    this.workers = Array.from({ length: count }, () => new ItemWorker(data));
  }

  /** Resolves once every worker has built its dataset; rejects with the first one's error. */
  ready(): Promise<void> {
    return Promise.all(this.workers.map((w) => w.ready)).then(() => undefined);
  }

  item(split: SplitName, index: number, augment: boolean, seed: number): Promise<Item> {
    const worker = this.workers.reduce((best, w) => (w.load < best.load ? w : best));
    return worker.item(split, index, augment, seed);
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.close()));
  }
}

/** The dataset with its splits' batches prepared by the pool (item() and label() stay in this thread). */
export function withItemWorkers(dataset: Dataset, pool: ItemWorkerPool): Dataset {
  const splits = new Map<SplitName, Split>();
  const remote = (local: Split): Split => {
    const batches = batchesWith(local, (index, augment, seed) => pool.item(local.name, index, augment, seed));
    if (!batches) return local;
    return {
      name: local.name,
      size: local.size,
      batches,
      item: (index, options) => local.item(index, options),
      label: (index) => local.label(index),
      get skipped() {
        return local.skipped;
      },
    };
  };
  return {
    info: dataset.info,
    split(name) {
      if (!splits.has(name)) splits.set(name, remote(dataset.split(name)));
      return splits.get(name)!;
    },
    close: async () => {
      await pool.close();
      await dataset.close?.();
    },
  };
}
